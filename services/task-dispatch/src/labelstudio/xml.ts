import { SaxesParser } from 'saxes';
import { safeParseLabelConfig, type LabelConfig, type LabelControl, type LabelIssue, type LabelObject, type ObjectType } from '@fairlabel/contracts';

/**
 * Label Studio's XML labeling config, read into a v2 label config and written back.
 * https://labelstud.io/tags: object tags (Image, Text…) show a `value="$key"` of the task data;
 * control tags (Choices, Labels, RectangleLabels…) label one object (`toName`) under their `name`.
 * Parsed with saxes, a strict XML parser (well-formedness errors come with their line).
 */

/** A tag this reader refuses, a config that is not well-formed XML, or a config whose controls do not fit together. */
export class LabelStudioConfigError extends Error {
  constructor(
    message: string,
    readonly issues: (LabelIssue & { line?: number; tag?: string })[],
  ) {
    super(message);
    this.name = 'LabelStudioConfigError';
  }
}

interface Element {
  name: string;
  attributes: Record<string, string>;
  line: number;
  children: Element[];
}

const objectTags: Record<string, ObjectType> = {
  Image: 'image',
  Text: 'text',
  HyperText: 'hypertext',
  Audio: 'audio',
  AudioPlus: 'audio',
  Video: 'video',
  Table: 'table',
  Paragraphs: 'paragraphs',
};

/** Layout tags: they arrange the interface and hold no answers. Kept in the stored XML, ignored here. */
const layoutTags = new Set(['view', 'header', 'style', 'filter']);

// Label Studio matches tag names without regard to case (its own tests write `<Textarea>`): so does this reader.
const byLowerCase = <T>(map: Record<string, T>) => new Map(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));

const controlTags: Record<string, { type: LabelControl['type']; items?: 'Choice' | 'Label'; labelled?: boolean }> = {
  Choices: { type: 'choices', items: 'Choice' },
  Labels: { type: 'labels', items: 'Label' },
  RectangleLabels: { type: 'rectangle', items: 'Label', labelled: true },
  Rectangle: { type: 'rectangle' },
  PolygonLabels: { type: 'polygon', items: 'Label', labelled: true },
  Polygon: { type: 'polygon' },
  KeyPointLabels: { type: 'keypoint', items: 'Label', labelled: true },
  KeyPoint: { type: 'keypoint' },
  TextArea: { type: 'textarea' },
  Rating: { type: 'rating' },
  Number: { type: 'number' },
};

const objectTagsLower = byLowerCase(objectTags);
const controlTagsLower = byLowerCase(controlTags);
const isLayout = (el: Element) => layoutTags.has(el.name.toLowerCase());

function parseXml(xml: string): Element {
  const parser = new SaxesParser({ position: true });
  const stack: Element[] = [];
  let root: Element | null = null;
  let startLine = 1;
  let error: { message: string; line: number } | null = null;
  parser.on('opentagstart', () => {
    startLine = parser.line;
  });
  parser.on('opentag', (tag) => {
    const element: Element = { name: tag.name, attributes: tag.attributes as Record<string, string>, line: startLine, children: [] };
    if (stack.length) stack[stack.length - 1]!.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('error', (err) => {
    // saxes messages start with "line:column: "; the line is reported on its own.
    error ??= { message: err.message.replace(/^[^:]*:\d+:\d+: /, ''), line: parser.line };
    throw err;
  });
  try {
    parser.write(xml).close();
  } catch {
    // error holds the first problem.
  }
  if (error) {
    const { message, line } = error;
    throw new LabelStudioConfigError(`the label config is not well-formed XML: line ${line}: ${message}`, [{ path: `line ${line}`, line, message }]);
  }
  if (!root) throw new LabelStudioConfigError('the label config is empty', [{ path: 'line 1', line: 1, message: 'no root tag' }]);
  return root;
}

const bool = (v: string | undefined) => v === 'true';
const num = (v: string | undefined) => (v === undefined || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));

function refuse(el: Element, message: string): never {
  throw new LabelStudioConfigError(`line ${el.line}: <${el.name}>: ${message}`, [{ path: `line ${el.line}`, line: el.line, tag: el.name, message }]);
}

function need(el: Element, attribute: string): string {
  const v = el.attributes[attribute];
  if (v === undefined || v === '') refuse(el, `needs a \`${attribute}\` attribute`);
  return v;
}

/** The values of a control's Choice/Label children (an `alias` replaces the value in results, as in Label Studio). */
function itemValues(el: Element, itemTag: 'Choice' | 'Label'): string[] {
  const values: string[] = [];
  const walk = (parent: Element) => {
    for (const child of parent.children) {
      if (child.name.toLowerCase() === itemTag.toLowerCase()) values.push(child.attributes.alias ?? need(child, 'value'));
      else if (isLayout(child)) walk(child);
      else refuse(child, `not allowed inside <${el.name}> (expected <${itemTag}>)`);
    }
  };
  walk(el);
  return values;
}

/**
 * The v2 config of a Label Studio XML config, or a LabelStudioConfigError naming the tag and line of
 * the first problem (a tag this platform does not support, a missing attribute, a `toName` naming no
 * object) with every config issue found.
 */
export function labelConfigFromXml(xml: string): LabelConfig {
  const root = parseXml(xml);
  if (root.name.toLowerCase() !== 'view') refuse(root, 'the root tag must be <View>');
  const objects: LabelObject[] = [];
  const controls: Record<string, unknown>[] = [];
  const lines = { objects: [] as Element[], controls: [] as Element[] };

  const visit = (el: Element) => {
    if (isLayout(el)) {
      if (el.name.toLowerCase() === 'view') for (const child of el.children) visit(child);
      return;
    }
    const objectType = objectTagsLower.get(el.name.toLowerCase());
    if (objectType) {
      if (el.attributes.valueList !== undefined) refuse(el, 'valueList (several images in one task) is not supported');
      objects.push({ name: need(el, 'name'), type: objectType, value: need(el, 'value') });
      lines.objects.push(el);
      return;
    }
    const control = controlTagsLower.get(el.name.toLowerCase());
    if (!control) refuse(el, 'this tag is not supported (supported: View, Header, Style, Filter; ' + `${Object.keys(objectTags).join(', ')}; ${Object.keys(controlTags).join(', ')})`);
    const a = el.attributes;
    const toName = need(el, 'toName');
    if (toName.includes(',')) refuse(el, 'a toName naming several objects is not supported');
    const base: Record<string, unknown> = { name: need(el, 'name'), to_name: toName, required: bool(a.required) };
    if (!control.items && el.children.length) refuse(el.children[0]!, `not allowed inside <${el.name}>`);
    switch (control.type) {
      case 'choices':
        Object.assign(base, { type: 'choices', choices: itemValues(el, 'Choice'), multiple: a.choice === 'multiple', per_region: bool(a.perRegion) });
        break;
      case 'labels':
        Object.assign(base, { type: 'labels', labels: itemValues(el, 'Label'), multiple: a.choice === 'multiple' });
        break;
      case 'rectangle':
      case 'polygon':
      case 'keypoint':
        Object.assign(base, { type: control.type, labels: control.items ? itemValues(el, 'Label') : [], multiple: a.choice === 'multiple' });
        if (control.type === 'rectangle') base.can_rotate = a.canRotate !== 'false';
        break;
      case 'textarea':
        Object.assign(base, { type: 'textarea', per_region: bool(a.perRegion), ...(num(a.maxSubmissions) ? { max_items: num(a.maxSubmissions) } : {}) });
        break;
      case 'rating':
        Object.assign(base, { type: 'rating', per_region: bool(a.perRegion), ...(num(a.maxRating) ? { max_rating: num(a.maxRating) } : {}) });
        break;
      case 'number':
        Object.assign(base, {
          type: 'number',
          per_region: bool(a.perRegion),
          ...(num(a.min) !== undefined ? { min: num(a.min) } : {}),
          ...(num(a.max) !== undefined ? { max: num(a.max) } : {}),
          ...(num(a.step) !== undefined ? { step: num(a.step) } : {}),
        });
        break;
    }
    controls.push(base);
    lines.controls.push(el);
  };
  for (const child of root.children) visit(child);

  const parsed = safeParseLabelConfig({ version: 2, objects, controls });
  if (parsed.success) return parsed.config;
  // Config paths (`controls.2.to_name`) named by the tag and line they came from.
  const issues = parsed.issues.map((i) => {
    const [list, index, ...rest] = i.path.split('.');
    const el = list === 'objects' || list === 'controls' ? lines[list][Number(index)] : undefined;
    if (!el) return { ...i, path: i.path || '(config)' };
    const field = rest.length ? ` ${rest.join('.')}` : '';
    return { path: `line ${el.line}`, line: el.line, tag: el.name, message: `<${el.name} name="${el.attributes.name ?? ''}">${field}: ${i.message}` };
  });
  throw new LabelStudioConfigError(`the label config does not fit together: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

// ---------------------------------------------------------------------------------------------
// Writing

const objectTagOf: Record<ObjectType, string> = { image: 'Image', text: 'Text', hypertext: 'HyperText', audio: 'Audio', video: 'Video', table: 'Table', paragraphs: 'Paragraphs' };

/** An attribute value: XML-escaped, with whitespace other than spaces as character references so it survives attribute normalisation. */
export function xmlAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function tag(name: string, attributes: Record<string, string | number | boolean | undefined>, children: string[] = []): string {
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttribute(String(v))}"`)
    .join('');
  return children.length ? `  <${name}${attrs}>\n${children.map((c) => `    ${c}\n`).join('')}  </${name}>` : `  <${name}${attrs}/>`;
}

/** The Label Studio tag of a control: the `…Labels` form when it has labels. */
export function controlTagOf(c: LabelControl): string {
  switch (c.type) {
    case 'choices':
      return 'Choices';
    case 'labels':
      return 'Labels';
    case 'rectangle':
      return c.labels.length ? 'RectangleLabels' : 'Rectangle';
    case 'polygon':
      return c.labels.length ? 'PolygonLabels' : 'Polygon';
    case 'keypoint':
      return c.labels.length ? 'KeyPointLabels' : 'KeyPoint';
    case 'textarea':
      return 'TextArea';
    case 'rating':
      return 'Rating';
    case 'number':
      return 'Number';
  }
}

/** Label Studio XML for a v2 config, with every object and control under the names the config gives them. */
export function labelConfigToXml(config: LabelConfig): string {
  const parts: string[] = [];
  for (const o of config.objects) parts.push(tag(objectTagOf[o.type], { name: o.name, value: o.value }));
  for (const c of config.controls) {
    const common = { name: c.name, toName: c.to_name, required: c.required ? 'true' : undefined };
    const name = controlTagOf(c);
    switch (c.type) {
      case 'choices':
        parts.push(
          tag(
            name,
            { ...common, choice: c.multiple ? 'multiple' : 'single', perRegion: c.per_region ? 'true' : undefined },
            c.choices.map((v) => `<Choice value="${xmlAttribute(v)}"/>`),
          ),
        );
        break;
      case 'labels':
      case 'rectangle':
      case 'polygon':
      case 'keypoint':
        parts.push(
          tag(
            name,
            { ...common, choice: c.multiple ? 'multiple' : undefined, canRotate: c.type === 'rectangle' && !c.can_rotate ? 'false' : undefined },
            c.labels.map((v) => `<Label value="${xmlAttribute(v)}"/>`),
          ),
        );
        break;
      case 'textarea':
        parts.push(tag(name, { ...common, perRegion: c.per_region ? 'true' : undefined, maxSubmissions: c.max_items }));
        break;
      case 'rating':
        parts.push(tag(name, { ...common, perRegion: c.per_region ? 'true' : undefined, maxRating: c.max_rating }));
        break;
      case 'number':
        parts.push(tag(name, { ...common, perRegion: c.per_region ? 'true' : undefined, min: c.min, max: c.max, step: c.step }));
        break;
    }
  }
  return `<View>\n${parts.join('\n')}\n</View>\n`;
}
