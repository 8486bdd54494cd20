import { SaxesParser } from 'saxes';

/**
 * Checks a Label Studio JSON export against its XML config by Label Studio's published format rules,
 * read independently of the code under test (its own XML reading, no fairlabel types):
 *
 * - https://labelstud.io/guide/task_format: an export is a list of tasks; a task has a `data` object
 *   holding the keys the config's object tags read (`value="$key"`); `annotations` and `predictions`
 *   are lists whose elements hold a `result` list; `predictions[].score` is a number and
 *   `model_version` a string; `annotations[].lead_time` is seconds, `ground_truth`/`was_cancelled`
 *   booleans.
 * - the result format (includes/result_format.md): a result has `from_name` (a control tag's name),
 *   `to_name` (the object that control labels), `type` (the control tag's name in lower case) and a
 *   `value`; region ids are made of `A-Za-z0-9_-`; the results of one region share its id; a
 *   per-region control's result carries the id of a region of the same object.
 * - the tag pages (/tags): rectangle x, y, width, height and polygon points in percent of the image
 *   (0-100), rotation in degrees; `original_width`/`original_height` in pixels; span `start`/`end`
 *   offsets into the text with `text` the text between them; choice and label values are those of the
 *   config's Choice/Label tags.
 *
 * Returns every violation found, worded with where it is; an empty list means the file is well formed.
 */

interface Tag {
  name: string;
  attrs: Record<string, string>;
  children: Tag[];
}

function readConfig(xml: string): Tag {
  const parser = new SaxesParser();
  const stack: Tag[] = [];
  let root: Tag | undefined;
  parser.on('opentag', (t) => {
    const tag: Tag = { name: t.name, attrs: t.attributes as Record<string, string>, children: [] };
    if (stack.length) stack[stack.length - 1]!.children.push(tag);
    else root = tag;
    stack.push(tag);
  });
  parser.on('closetag', () => stack.pop());
  parser.write(xml).close();
  if (!root) throw new Error('empty config');
  return root;
}

const OBJECT_TAGS = new Set(['image', 'text', 'hypertext', 'audio', 'audioplus', 'video', 'table', 'paragraphs']);
const CONTROL_TYPES: Record<string, string[]> = {
  choices: ['choices'],
  labels: ['labels'],
  rectanglelabels: ['rectanglelabels'],
  rectangle: ['rectangle'],
  polygonlabels: ['polygonlabels'],
  polygon: ['polygon'],
  keypointlabels: ['keypointlabels'],
  keypoint: ['keypoint'],
  textarea: ['textarea'],
  rating: ['rating'],
  number: ['number'],
};
const REGION_TAGS = new Set(['labels', 'rectanglelabels', 'rectangle', 'polygonlabels', 'polygon', 'keypointlabels', 'keypoint']);

interface Control {
  tag: string;
  toName: string;
  values: Set<string>;
  perRegion: boolean;
  maxRating: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPercent = (v: unknown) => typeof v === 'number' && v >= -1e-6 && v <= 100 + 1e-6;

export function checkLabelStudioExport(xml: string, exported: unknown): string[] {
  const problems: string[] = [];
  const objects = new Map<string, { tag: string; key: string }>();
  const controls = new Map<string, Control>();
  const walk = (t: Tag) => {
    const tag = t.name.toLowerCase();
    if (OBJECT_TAGS.has(tag) && t.attrs.name) objects.set(t.attrs.name, { tag, key: (t.attrs.value ?? '').replace(/^\$/, '') });
    if (CONTROL_TYPES[tag] && t.attrs.name) {
      const values = new Set<string>();
      const collect = (c: Tag) => c.children.forEach((x) => (['choice', 'label'].includes(x.name.toLowerCase()) ? values.add(x.attrs.alias ?? x.attrs.value ?? '') : collect(x)));
      collect(t);
      controls.set(t.attrs.name, { tag, toName: t.attrs.toName ?? '', values, perRegion: t.attrs.perRegion === 'true', maxRating: Number(t.attrs.maxRating ?? 5) });
    }
    t.children.forEach(walk);
  };
  walk(readConfig(xml));

  if (!Array.isArray(exported)) return ['the export is not a list of tasks'];
  exported.forEach((task, ti) => {
    const at = `task ${ti}`;
    if (!isObject(task)) return problems.push(`${at}: not an object`);
    if (!isObject(task.data)) return problems.push(`${at}: no data object`);
    const data = task.data;
    for (const [name, o] of objects) if (o.key && !(o.key in data)) problems.push(`${at}: data has no "${o.key}" for object ${name}`);
    for (const list of ['annotations', 'predictions'] as const) {
      if (task[list] === undefined) continue;
      if (!Array.isArray(task[list])) {
        problems.push(`${at}: ${list} is not a list`);
        continue;
      }
      (task[list] as unknown[]).forEach((entry, ai) => {
        const where = `${at} ${list}[${ai}]`;
        if (!isObject(entry)) return problems.push(`${where}: not an object`);
        if (list === 'predictions') {
          if (entry.score !== undefined && typeof entry.score !== 'number') problems.push(`${where}: score is not a number`);
          if (entry.model_version !== undefined && typeof entry.model_version !== 'string') problems.push(`${where}: model_version is not a string`);
        } else {
          for (const flag of ['ground_truth', 'was_cancelled']) if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') problems.push(`${where}: ${flag} is not a boolean`);
          if (entry.lead_time !== undefined && entry.lead_time !== null && typeof entry.lead_time !== 'number') problems.push(`${where}: lead_time is not a number`);
          if (entry.created_at !== undefined && Number.isNaN(Date.parse(String(entry.created_at)))) problems.push(`${where}: created_at is not a date`);
        }
        if (!Array.isArray(entry.result)) return problems.push(`${where}: result is not a list`);
        const regionObject = new Map<string, string>();
        const attached: [string, string, string][] = [];
        entry.result.forEach((r, ri) => {
          const w = `${where}.result[${ri}]`;
          if (!isObject(r) || !isObject(r.value)) return problems.push(`${w}: not a {from_name, to_name, type, value} object`);
          const control = controls.get(String(r.from_name));
          if (!control) return problems.push(`${w}: from_name "${String(r.from_name)}" is no control tag of the config`);
          if (r.to_name !== control.toName) problems.push(`${w}: to_name "${String(r.to_name)}" is not "${control.toName}"`);
          if (!CONTROL_TYPES[control.tag]!.includes(String(r.type))) problems.push(`${w}: type "${String(r.type)}" is not "${control.tag}"`);
          if (r.id !== undefined && (typeof r.id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(r.id))) problems.push(`${w}: id ${JSON.stringify(r.id)} is not made of A-Za-z0-9_-`);
          for (const dim of ['original_width', 'original_height']) if (r[dim] !== undefined && !(Number.isInteger(r[dim]) && (r[dim] as number) > 0)) problems.push(`${w}: ${dim} is not a size in pixels`);
          const v = r.value;
          const checkValues = (key: string) => {
            const list = v[key];
            if (!Array.isArray(list)) return problems.push(`${w}: value.${key} is not a list`);
            for (const x of list) if (!control.values.has(x as string)) problems.push(`${w}: ${JSON.stringify(x)} is no ${key === 'choices' ? 'Choice' : 'Label'} of ${String(r.from_name)}`);
          };
          if (REGION_TAGS.has(control.tag)) {
            if (typeof r.id !== 'string') problems.push(`${w}: a region without an id`);
            else regionObject.set(r.id, control.toName);
            if (control.tag.endsWith('labels')) checkValues(control.tag);
          }
          if (control.perRegion) {
            if (typeof r.id !== 'string') problems.push(`${w}: a per-region result without the region's id`);
            else attached.push([r.id, control.toName, w]);
          }
          switch (control.tag) {
            case 'choices':
              checkValues('choices');
              break;
            case 'labels': {
              const object = objects.get(control.toName);
              const text = object ? data[object.key] : undefined;
              if (!Number.isInteger(v.start) || !Number.isInteger(v.end) || (v.start as number) >= (v.end as number)) problems.push(`${w}: start/end are not an offset range`);
              else if (typeof text === 'string' && v.text !== undefined && v.text !== text.slice(v.start as number, v.end as number)) problems.push(`${w}: text is not the text at start..end`);
              if (typeof text === 'string' && (v.end as number) > text.length) problems.push(`${w}: end is past the text`);
              break;
            }
            case 'rectanglelabels':
            case 'rectangle':
              for (const k of ['x', 'y', 'width', 'height']) if (!isPercent(v[k])) problems.push(`${w}: ${k} is not in percent (0-100)`);
              if (v.rotation !== undefined && typeof v.rotation !== 'number') problems.push(`${w}: rotation is not a number`);
              break;
            case 'polygonlabels':
            case 'polygon':
              if (!Array.isArray(v.points) || !v.points.every((p) => Array.isArray(p) && p.length === 2 && p.every(isPercent))) problems.push(`${w}: points are not [x, y] pairs in percent`);
              break;
            case 'keypointlabels':
            case 'keypoint':
              if (!isPercent(v.x) || !isPercent(v.y)) problems.push(`${w}: x/y are not in percent`);
              break;
            case 'textarea':
              if (!Array.isArray(v.text) || !v.text.every((x) => typeof x === 'string')) problems.push(`${w}: value.text is not a list of strings`);
              break;
            case 'rating':
              if (!Number.isInteger(v.rating) || (v.rating as number) < 1 || (v.rating as number) > control.maxRating) problems.push(`${w}: rating is not 1..${control.maxRating}`);
              break;
            case 'number':
              if (typeof v.number !== 'number') problems.push(`${w}: number is not a number`);
              break;
          }
        });
        for (const [id, toName, w] of attached) {
          if (regionObject.get(id) !== toName) problems.push(`${w}: per-region result "${id}" has no region of "${toName}" with that id`);
        }
      });
    }
  });
  return problems;
}
