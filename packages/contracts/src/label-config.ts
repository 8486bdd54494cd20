import { z } from 'zod';

/**
 * A job's label config (v2): the objects shown to a worker (an image, a text… each read from one key
 * of the task's data) and the named controls that label them, Label Studio's model. An answer is an
 * object keyed by control name; each control's value has the shape of its type:
 *
 *   choices    { choices: string[] }                       (single: exactly one)
 *   labels     { spans: [{ id?, start, end, labels, text?, score?, attributes? }] }   UTF-16 offsets, end exclusive
 *   rectangle  { boxes: [{ id?, labels, x, y, width, height, rotation?, score?, attributes? }] }
 *   polygon    { polygons: [{ id?, labels, points: [[x, y], ...], score?, attributes? }] }
 *   keypoint   { keypoints: [{ id?, labels, x, y, width?, score?, attributes? }] }
 *   textarea   { text: string[] }
 *   rating     { rating: int }
 *   number     { number: number }
 *
 * Geometry is in percent of the image (0-100): (x, y) is the top-left corner before rotation, and
 * `rotation` is degrees clockwise about (x, y). Values (choices, labels) are compared byte-exact: never
 * trimmed or case-folded. A control with `per_region` (choices, textarea, rating, number) is answered
 * per region, in the region's `attributes` keyed by that control's name, not at the top level.
 *
 * worker-assignment (submit), task-dispatch (import, export) and QA read answers of these shapes, so
 * this file is the one definition of "a valid answer".
 */

export const objectTypes = ['image', 'text', 'hypertext', 'audio', 'video', 'table', 'paragraphs'] as const;
export type ObjectType = (typeof objectTypes)[number];

export const controlTypes = ['choices', 'labels', 'rectangle', 'polygon', 'keypoint', 'textarea', 'rating', 'number'] as const;
export type ControlType = (typeof controlTypes)[number];

/** Control types whose answers are regions on an object, and the key of their region list. */
export const regionKeys = { labels: 'spans', rectangle: 'boxes', polygon: 'polygons', keypoint: 'keypoints' } as const;
export type RegionControlType = keyof typeof regionKeys;
export const isRegionType = (t: ControlType): t is RegionControlType => t in regionKeys;
/** Control types that can be answered per region (`per_region`). */
export const perRegionTypes: readonly ControlType[] = ['choices', 'textarea', 'rating', 'number'];

const MAX_VALUES = 1000;
const MAX_TEXT = 100_000;
export const MAX_REGIONS = 10_000;

/** Names are identifiers chosen by the config's author (Label Studio's `name`/`toName`): kept as written. */
const nameSchema = z.string().min(1, 'required').max(200).regex(/^[^\s,]+$/, 'no spaces or commas');
/** A choice or label value: any non-empty text, kept byte-exact (a value ending in a newline is a different value). */
const valueSchema = z.string().min(1, 'empty value').max(1000);

function uniqueValues(what: string, min: number) {
  return z
    .array(valueSchema)
    .min(min, `at least ${min} ${what} required`)
    .max(MAX_VALUES, `at most ${MAX_VALUES} ${what}`)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate value ${JSON.stringify(v)}` });
        seen.add(v);
      });
    });
}

const count = z.number().int().min(0).max(MAX_REGIONS);

export const labelObjectSchema = z
  .strictObject({
    name: nameSchema,
    type: z.enum(objectTypes),
    value: z.string().regex(/^\$\S+$/, 'a data key written `$key`').describe('The key of the task data this object shows, as `$key`.'),
    width: z.number().int().positive().max(1_000_000).optional().describe('Image objects: the width in pixels when every image has it.'),
    height: z.number().int().positive().max(1_000_000).optional(),
  })
  .superRefine((o, ctx) => {
    if ((o.width === undefined) !== (o.height === undefined)) ctx.addIssue({ code: 'custom', path: [o.width === undefined ? 'width' : 'height'], message: 'width and height go together' });
    if (o.width !== undefined && o.type !== 'image') ctx.addIssue({ code: 'custom', path: ['width'], message: 'only image objects have a size' });
  })
  .meta({ id: 'LabelObject' });

const common = {
  name: nameSchema,
  to_name: nameSchema.describe('The object this control labels.'),
  required: z.boolean().default(false).describe('The answer must hold this control (and, for lists, at least one entry).'),
};
const perRegion = { per_region: z.boolean().default(false).describe('Answered once per region of the same object, in each region\'s `attributes`.') };
const regionCommon = {
  labels: uniqueValues('labels', 0).default([]).describe('Labels a region may carry; empty for a plain drawing tool.'),
  multiple: z.boolean().default(false).describe('A region may carry more than one label.'),
  min: count.optional().describe('Fewest regions.'),
  max: count.optional().describe('Most regions.'),
};

const choicesControl = z.strictObject({
  ...common,
  ...perRegion,
  type: z.literal('choices'),
  choices: uniqueValues('choices', 1),
  multiple: z.boolean().default(false),
  min: z.number().int().min(0).optional().describe('Multiple: fewest picks.'),
  max: z.number().int().min(1).optional().describe('Multiple: most picks (defaults to every choice).'),
});
const labelsControl = z.strictObject({
  ...common,
  ...regionCommon,
  type: z.literal('labels'),
  labels: uniqueValues('labels', 1),
  allow_overlap: z.boolean().default(true),
});
const rectangleControl = z.strictObject({
  ...common,
  ...regionCommon,
  type: z.literal('rectangle'),
  can_rotate: z.boolean().default(true),
  min_width: z.number().min(0).max(100).optional().describe('Percent of the image width.'),
  min_height: z.number().min(0).max(100).optional(),
});
const polygonControl = z.strictObject({ ...common, ...regionCommon, type: z.literal('polygon') });
const keypointControl = z.strictObject({ ...common, ...regionCommon, type: z.literal('keypoint') });
const textareaControl = z.strictObject({
  ...common,
  ...perRegion,
  type: z.literal('textarea'),
  min_length: z.number().int().min(0).default(0),
  max_length: z.number().int().min(1).max(MAX_TEXT).default(MAX_TEXT),
  max_items: z.number().int().min(1).max(MAX_VALUES).optional().describe('Most texts (Label Studio `maxSubmissions`).'),
});
const ratingControl = z.strictObject({ ...common, ...perRegion, type: z.literal('rating'), max_rating: z.number().int().min(1).max(100).default(5) });
const numberControl = z.strictObject({
  ...common,
  ...perRegion,
  type: z.literal('number'),
  min: z.number().optional(),
  max: z.number().optional(),
  step: z.number().positive().optional().describe('Kept for the interface; answers are not rounded to it.'),
});

export const labelControlSchema = z
  .discriminatedUnion('type', [choicesControl, labelsControl, rectangleControl, polygonControl, keypointControl, textareaControl, ratingControl, numberControl])
  .meta({ id: 'LabelControl' });

export type LabelObject = z.output<typeof labelObjectSchema>;
export type LabelControl = z.output<typeof labelControlSchema>;
export type ControlOf<T extends ControlType> = Extract<LabelControl, { type: T }>;

/** Which object types each control type can label. */
const labelsObjects: Record<ControlType, readonly ObjectType[] | 'any'> = {
  choices: 'any',
  textarea: 'any',
  rating: 'any',
  number: 'any',
  labels: ['text'],
  rectangle: ['image'],
  polygon: ['image'],
  keypoint: ['image'],
};

export const labelConfigSchema = z
  .strictObject({
    version: z.literal(2).default(2),
    objects: z.array(labelObjectSchema).min(1, 'at least one object required').max(100),
    controls: z.array(labelControlSchema).min(1, 'at least one control required').max(100),
  })
  .superRefine((c, ctx) => {
    const names = new Map<string, string>();
    c.objects.forEach((o, i) => {
      if (names.has(o.name)) ctx.addIssue({ code: 'custom', path: ['objects', i, 'name'], message: `the name "${o.name}" is used twice` });
      names.set(o.name, 'object');
    });
    const objects = new Map(c.objects.map((o) => [o.name, o]));
    c.controls.forEach((k, i) => {
      if (names.has(k.name)) ctx.addIssue({ code: 'custom', path: ['controls', i, 'name'], message: `the name "${k.name}" is used twice` });
      names.set(k.name, 'control');
      const target = objects.get(k.to_name);
      if (!target) {
        ctx.addIssue({ code: 'custom', path: ['controls', i, 'to_name'], message: `no object is named "${k.to_name}"` });
        return;
      }
      const allowed = labelsObjects[k.type];
      if (allowed !== 'any' && !allowed.includes(target.type)) {
        ctx.addIssue({ code: 'custom', path: ['controls', i, 'to_name'], message: `a ${k.type} control labels ${allowed.join(' or ')} objects; "${k.to_name}" is ${target.type}` });
      }
      if ('per_region' in k && k.per_region && !c.controls.some((r) => isRegionType(r.type) && r.to_name === k.to_name)) {
        ctx.addIssue({ code: 'custom', path: ['controls', i, 'per_region'], message: `no region control labels "${k.to_name}"` });
      }
      if (k.type === 'choices') {
        if (k.max !== undefined && k.max > k.choices.length) ctx.addIssue({ code: 'custom', path: ['controls', i, 'max'], message: `max (${k.max}) exceeds the ${k.choices.length} choices` });
        if (k.min !== undefined && k.min > (k.max ?? k.choices.length)) ctx.addIssue({ code: 'custom', path: ['controls', i, 'min'], message: 'min exceeds max' });
        if (!k.multiple && (k.min !== undefined || k.max !== undefined)) ctx.addIssue({ code: 'custom', path: ['controls', i, 'multiple'], message: 'min and max apply to multiple choices' });
      }
      if (isRegionType(k.type) && 'min' in k && k.min !== undefined && k.max !== undefined && k.min > k.max) {
        ctx.addIssue({ code: 'custom', path: ['controls', i, 'min'], message: 'min exceeds max' });
      }
      if (k.type === 'textarea' && k.min_length > k.max_length) ctx.addIssue({ code: 'custom', path: ['controls', i, 'min_length'], message: 'min_length exceeds max_length' });
      if (k.type === 'number' && k.min !== undefined && k.max !== undefined && k.min > k.max) ctx.addIssue({ code: 'custom', path: ['controls', i, 'min'], message: 'min exceeds max' });
    });
  })
  .meta({ id: 'LabelConfig' });

export type LabelConfig = z.output<typeof labelConfigSchema>;

/** Where a config or an answer is wrong: a dotted path inside it (an answer's starts with the control name) and what is wrong there. */
export interface LabelIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): LabelIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export class LabelConfigError extends Error {
  constructor(readonly issues: LabelIssue[]) {
    super(`invalid label config: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'LabelConfigError';
  }
}

export function safeParseLabelConfig(config: unknown): { success: true; config: LabelConfig } | { success: false; issues: LabelIssue[] } {
  const parsed = labelConfigSchema.safeParse(config);
  return parsed.success ? { success: true, config: parsed.data } : { success: false, issues: issuesOf(parsed.error) };
}

/** The typed config with defaults filled in; throws LabelConfigError listing every problem. */
export function parseLabelConfig(config: unknown): LabelConfig {
  const result = safeParseLabelConfig(config);
  if (!result.success) throw new LabelConfigError(result.issues);
  return result.config;
}

/** The data key an object reads (`$text` -> `text`). */
export const dataKeyOf = (o: LabelObject): string => o.value.slice(1);

/** The one-word kind of a config, kept in `jobs.task_type` for listings and filters. */
export function taskTypeOf(config: LabelConfig): string {
  const top = config.controls.filter((c) => !('per_region' in c && c.per_region));
  if (top.length !== 1 || config.controls.length !== 1) return 'custom';
  const c = top[0]!;
  switch (c.type) {
    case 'choices':
      return c.multiple ? 'multi_label' : 'classification';
    case 'rectangle':
      return 'bounding_boxes';
    case 'labels':
      return 'text_spans';
    case 'textarea':
      return 'free_text';
    default:
      return 'custom';
  }
}

// ---------------------------------------------------------------------------------------------
// Answers

/**
 * Facts about the item being answered that the config cannot know: the length (UTF-16 code units) of
 * each top-level text field of the task data, by data key; they bound span offsets. Taken from the
 * data without the config, so a claim can remember it before anyone reads the job's config.
 */
export interface AnswerContext {
  text_lengths?: Record<string, number>;
}

export function answerContextOf(data: unknown): AnswerContext {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return {};
  const lengths: Record<string, number> = {};
  let any = false;
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') continue;
    lengths[key] = value.length;
    any = true;
  }
  return any ? { text_lengths: lengths } : {};
}

/** The data keys whose text bounds this config's answers (the texts that labels controls mark). */
function boundedKeys(config: LabelConfig): string[] {
  const keys: string[] = [];
  for (const c of config.controls) {
    if (c.type !== 'labels') continue;
    const object = config.objects.find((o) => o.name === c.to_name);
    if (object) keys.push(dataKeyOf(object));
  }
  return keys;
}

/** A cache key for answerSchemaFor(config, context): '' when the context changes nothing for this config. */
export function answerContextKey(config: LabelConfig, context: AnswerContext): string {
  const keys = boundedKeys(config);
  if (!keys.length || !context.text_lengths) return '';
  return keys.map((k) => context.text_lengths?.[k] ?? '').join('|');
}

const EPSILON = 1e-6;
/**
 * How far past the right or bottom edge an unrotated box may reach, in percent: Label Studio's own
 * sample predictions do (x 64.92 + width 35.46), as models' boxes clipped after rounding often do.
 */
const EDGE_TOLERANCE = 1;
const percent = z.number().min(0, 'below 0 (geometry is in percent of the image)').max(100 + EPSILON, 'above 100 (geometry is in percent of the image)');
const regionId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, `_` and `-`, up to 100 characters');
const score = z.number().finite();

function pickedLabels(c: { labels: string[]; multiple: boolean }, what: string) {
  const allowed = new Set(c.labels);
  return z
    .array(z.string())
    .max(c.multiple ? c.labels.length : 1, c.multiple ? 'more labels than the control has' : 'one label per region')
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (!allowed.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(v)} is not one of the ${what}'s labels` });
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(v)} given twice` });
        seen.add(v);
      });
      if (c.labels.length > 0 && list.length === 0) ctx.addIssue({ code: 'custom', message: 'a region needs a label' });
    });
}

function choicesValue(c: ControlOf<'choices'>) {
  const allowed = new Set(c.choices);
  const min = c.multiple ? Math.max(c.min ?? 0, c.required ? 1 : 0) : 1;
  const max = c.multiple ? (c.max ?? c.choices.length) : 1;
  return z.strictObject({
    choices: z
      .array(z.string())
      .min(min, c.multiple ? `pick at least ${min}` : 'pick exactly one')
      .max(max, c.multiple ? `pick at most ${max}` : 'pick exactly one')
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((v, i) => {
          if (!allowed.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(v)} is not one of the choices` });
          if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(v)} picked twice` });
          seen.add(v);
        });
      }),
  });
}

function textareaValue(c: ControlOf<'textarea'>) {
  const item = z.string().min(c.min_length, `at least ${c.min_length} characters`).max(c.max_length, `at most ${c.max_length} characters`);
  return z.strictObject({ text: z.array(item).min(c.required ? 1 : 0, 'at least one text').max(c.max_items ?? MAX_VALUES, `at most ${c.max_items ?? MAX_VALUES} texts`) });
}

function ratingValue(c: ControlOf<'rating'>) {
  return z.strictObject({ rating: z.number().int().min(1, 'at least 1').max(c.max_rating, `at most ${c.max_rating}`) });
}

function numberValue(c: ControlOf<'number'>) {
  let n = z.number().finite();
  if (c.min !== undefined) n = n.min(c.min, `at least ${c.min}`);
  if (c.max !== undefined) n = n.max(c.max, `at most ${c.max}`);
  return z.strictObject({ number: n });
}

function plainValue(c: LabelControl): z.ZodType {
  switch (c.type) {
    case 'choices':
      return choicesValue(c);
    case 'textarea':
      return textareaValue(c);
    case 'rating':
      return ratingValue(c);
    case 'number':
      return numberValue(c);
    default:
      throw new Error(`${c.type} is a region control`);
  }
}

/** `attributes` of a region: the per-region controls of the same object, each in its own shape. */
function attributesOf(config: LabelConfig, objectName: string) {
  const shape: Record<string, z.ZodType> = {};
  for (const c of config.controls) if ('per_region' in c && c.per_region && c.to_name === objectName) shape[c.name] = plainValue(c).optional();
  return Object.keys(shape).length ? z.strictObject(shape).optional() : z.undefined({ message: 'no per-region control labels this object' }).optional();
}

function regionValue(config: LabelConfig, c: Extract<LabelControl, { type: RegionControlType }>, context: AnswerContext) {
  const common = { id: regionId.optional(), labels: pickedLabels(c, c.name), score: score.optional(), attributes: attributesOf(config, c.to_name) };
  let region: z.ZodType;
  switch (c.type) {
    case 'labels': {
      const object = config.objects.find((o) => o.name === c.to_name);
      const length = object ? context.text_lengths?.[dataKeyOf(object)] : undefined;
      region = z
        .strictObject({ ...common, start: z.number().int().min(0), end: z.number().int().min(1), text: z.string().optional() })
        .superRefine((s, ctx) => {
          if (s.start >= s.end) ctx.addIssue({ code: 'custom', path: ['end'], message: `end (${s.end}) must be greater than start (${s.start})` });
          if (length !== undefined && s.end > length) ctx.addIssue({ code: 'custom', path: ['end'], message: `end (${s.end}) is past the end of the text (${length})` });
        });
      break;
    }
    case 'rectangle':
      region = z
        .strictObject({ ...common, x: percent, y: percent, width: percent, height: percent, rotation: z.number().min(-360).max(360).optional() })
        .superRefine((b, ctx) => {
          if (b.rotation && !c.can_rotate) ctx.addIssue({ code: 'custom', path: ['rotation'], message: 'this control does not allow rotated boxes' });
          if (!b.rotation) {
            if (b.x + b.width > 100 + EDGE_TOLERANCE) ctx.addIssue({ code: 'custom', path: ['width'], message: `the box reaches x=${b.x + b.width}, past the right edge (100)` });
            if (b.y + b.height > 100 + EDGE_TOLERANCE) ctx.addIssue({ code: 'custom', path: ['height'], message: `the box reaches y=${b.y + b.height}, past the bottom edge (100)` });
          }
          if (c.min_width !== undefined && b.width < c.min_width) ctx.addIssue({ code: 'custom', path: ['width'], message: `narrower than the minimum ${c.min_width}` });
          if (c.min_height !== undefined && b.height < c.min_height) ctx.addIssue({ code: 'custom', path: ['height'], message: `lower than the minimum ${c.min_height}` });
        });
      break;
    case 'polygon':
      region = z.strictObject({ ...common, points: z.array(z.tuple([percent, percent])).min(3, 'a polygon needs at least 3 points').max(10_000) });
      break;
    case 'keypoint':
      region = z.strictObject({ ...common, x: percent, y: percent, width: z.number().min(0).max(100).optional() });
      break;
  }
  const min = Math.max(c.min ?? 0, c.required ? 1 : 0);
  const list = z
    .array(region)
    .min(min, `draw at least ${min}`)
    .max(c.max ?? MAX_REGIONS, `draw at most ${c.max ?? MAX_REGIONS}`)
    .superRefine((regions, ctx) => {
      if (c.type !== 'labels' || c.allow_overlap) return;
      const spans = regions as { start: number; end: number }[];
      const order = spans.map((s, i) => ({ ...s, i })).sort((a, b) => a.start - b.start || a.end - b.end);
      for (let k = 1; k < order.length; k++) {
        if (order[k]!.start < order[k - 1]!.end) ctx.addIssue({ code: 'custom', path: [order[k]!.i], message: `overlaps span ${order[k - 1]!.i}; this control does not allow overlapping spans` });
      }
    });
  return z.strictObject({ [regionKeys[c.type]]: list });
}

/** The schema of one control's value (per_region controls: of one region's attribute). */
export function controlValueSchema(config: LabelConfig, control: LabelControl, context: AnswerContext = {}): z.ZodType {
  return isRegionType(control.type) ? regionValue(config, control as Extract<LabelControl, { type: RegionControlType }>, context) : plainValue(control);
}

/**
 * The config as it binds a partial answer: a model's prediction, or an annotation brought from another
 * tool, may fill only some controls, so nothing is required and no count has a minimum; every value
 * given must still fit its control.
 */
export function partialConfigOf(config: LabelConfig): LabelConfig {
  return {
    ...config,
    controls: config.controls.map((c) => {
      const relaxed = { ...c, required: false };
      if (c.type !== 'number' && 'min' in relaxed) delete (relaxed as { min?: number }).min;
      return relaxed as LabelControl;
    }),
  };
}

/**
 * The schema a whole answer must pass for this config: an object keyed by control name. Issue paths
 * start with the control's name (`sentiment.choices.0`); a key that is no control is named as such.
 * `partial` (predictions, imported annotations): see partialConfigOf.
 */
export function answerSchemaFor(config: LabelConfig, context: AnswerContext = {}, opts: { partial?: boolean } = {}): z.ZodType {
  if (opts.partial) config = partialConfigOf(config);
  const top = config.controls.filter((c) => !('per_region' in c && c.per_region));
  const shape: Record<string, z.ZodType> = {};
  for (const c of top) {
    const value = controlValueSchema(config, c, context);
    shape[c.name] = c.required ? value : value.optional();
  }
  const known = new Set(top.map((c) => c.name));
  const perRegion = new Set(config.controls.filter((c) => !known.has(c.name)).map((c) => c.name));
  return z
    .looseObject(shape)
    .superRefine((answer, ctx) => {
      const ids = new Map<string, string>();
      for (const key of Object.keys(answer)) {
        if (known.has(key)) continue;
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: perRegion.has(key) ? `"${key}" is answered per region, in each region's attributes` : `not a control of this job (controls: ${[...known].join(', ')})`,
        });
      }
      // Region ids name one region of the answer (Label Studio links a region's results by id).
      for (const c of top) {
        if (!isRegionType(c.type)) continue;
        const key = regionKeys[c.type];
        const regions = (answer[c.name] as Record<string, unknown> | undefined)?.[key];
        if (!Array.isArray(regions)) continue;
        regions.forEach((r: { id?: unknown }, i) => {
          if (typeof r?.id !== 'string') return;
          const first = ids.get(r.id);
          if (first) ctx.addIssue({ code: 'custom', path: [c.name, key, i, 'id'], message: `region id "${r.id}" is also used at ${first}` });
          else ids.set(r.id, `${c.name}.${key}.${i}`);
        });
      }
    });
}

/** Validates an answer; `issues` paths start with the control name (e.g. `label.boxes.0.width`). */
export function validateAnswer(config: LabelConfig, answer: unknown, context: AnswerContext = {}): { success: true; answer: unknown } | { success: false; issues: LabelIssue[] } {
  const parsed = answerSchemaFor(config, context).safeParse(answer);
  return parsed.success ? { success: true, answer: parsed.data } : { success: false, issues: issuesOf(parsed.error) };
}

/** Shapes of answers for the OpenAPI document (descriptions; validation is answerSchemaFor). */
export const answerDescription =
  'An object keyed by control name. choices: `{choices: [..]}`; labels: `{spans: [{id?, start, end, labels, text?}]}`; rectangle: ' +
  '`{boxes: [{id?, labels, x, y, width, height, rotation?}]}` (percent of the image); polygon: `{polygons: [{id?, labels, points: [[x, y], ..]}]}`; ' +
  'keypoint: `{keypoints: [{id?, labels, x, y, width?}]}`; textarea: `{text: [..]}`; rating: `{rating}`; number: `{number}`. ' +
  'Regions may carry `score` and `attributes` (per-region controls by name).';
