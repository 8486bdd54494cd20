import { z } from 'zod';
import { issuesOf, LabelConfigError, parseLabelConfig, type LabelConfig, type LabelIssue, type LabelObject } from './label-config.js';

/**
 * The label config of the first API, one schema per task type, still accepted when a job is created
 * or changed with `task_type` and converted on the way in to the v2 config (label-config.ts); and its
 * answers, converted the same way when an import brings them for such a job. The database migration
 * 20261129T1300_label_config_v2 made the same conversion of stored rows.
 *
 * Legacy answers:
 *   classification  { label }
 *   multi_label     { labels: [...] }
 *   bounding_boxes  { boxes: [{ label, x, y, width, height }] }   (pixels, origin top-left)
 *   text_spans      { spans: [{ start, end, label }] }              (UTF-16 offsets, end exclusive)
 *   transcription   { text }
 *   free_text       { text }
 */

export const legacyTaskTypes = ['classification', 'multi_label', 'bounding_boxes', 'text_spans', 'transcription', 'free_text'] as const;
export type TaskTypeName = (typeof legacyTaskTypes)[number];
export const taskTypeSchema = z.enum(legacyTaskTypes);

/** Not trimmed: values are byte-exact (a label ending in a newline is another label). */
const labelName = z.string().min(1).max(100);

function uniqueList(item: z.ZodString, min: number, max: number, what: string) {
  return z
    .array(item)
    .min(min, `at least ${min} ${what} required`)
    .max(max, `at most ${max} ${what}`)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate ${what.replace(/s$/, '')} "${v}"` });
        seen.add(v);
      });
    });
}

const MAX_TEXT = 100_000;

export const classificationConfigSchema = z.strictObject({
  labels: uniqueList(labelName, 2, 500, 'labels'),
});

export const multiLabelConfigSchema = z
  .strictObject({
    labels: uniqueList(labelName, 1, 500, 'labels'),
    min_picks: z.number().int().min(0).default(1),
    max_picks: z.number().int().min(1).optional().describe('Defaults to the number of labels.'),
  })
  .superRefine((c, ctx) => {
    // An empty label list is already reported; comparing picks against it would only add noise.
    if (c.labels.length === 0) return;
    if (c.max_picks !== undefined && c.max_picks > c.labels.length) {
      ctx.addIssue({ code: 'custom', path: ['max_picks'], message: `max_picks (${c.max_picks}) exceeds the ${c.labels.length} labels` });
    }
    const max = c.max_picks ?? c.labels.length;
    if (c.min_picks > max) ctx.addIssue({ code: 'custom', path: ['min_picks'], message: `min_picks (${c.min_picks}) exceeds max_picks (${max})` });
  })
  .transform((c) => ({ ...c, max_picks: c.max_picks ?? c.labels.length }));

export const boundingBoxesConfigSchema = z.strictObject({
  labels: uniqueList(labelName, 1, 500, 'labels'),
  image_width: z.number().int().positive().max(100_000).optional().describe('When every image has one size: boxes must lie inside it. Otherwise the task payload gives `image_width`/`image_height`.'),
  image_height: z.number().int().positive().max(100_000).optional(),
  min_width: z.number().positive().default(1),
  min_height: z.number().positive().default(1),
  min_boxes: z.number().int().min(0).default(0),
  max_boxes: z.number().int().min(1).max(10_000).default(1000),
}).superRefine((c, ctx) => {
  if ((c.image_width === undefined) !== (c.image_height === undefined)) {
    ctx.addIssue({ code: 'custom', path: [c.image_width === undefined ? 'image_width' : 'image_height'], message: 'image_width and image_height go together' });
  }
  if (c.min_boxes > c.max_boxes) ctx.addIssue({ code: 'custom', path: ['min_boxes'], message: `min_boxes (${c.min_boxes}) exceeds max_boxes (${c.max_boxes})` });
  if (c.image_width !== undefined && c.min_width > c.image_width) ctx.addIssue({ code: 'custom', path: ['min_width'], message: 'min_width exceeds image_width' });
  if (c.image_height !== undefined && c.min_height > c.image_height) ctx.addIssue({ code: 'custom', path: ['min_height'], message: 'min_height exceeds image_height' });
});

export const textSpansConfigSchema = z.strictObject({
  entity_types: uniqueList(labelName, 1, 500, 'entity types'),
  allow_overlap: z.boolean().default(false),
  max_spans: z.number().int().min(1).max(100_000).default(10_000),
});

const textLimits = z
  .strictObject({
    min_length: z.number().int().min(0).default(0),
    max_length: z.number().int().min(1).max(MAX_TEXT),
  })
  .superRefine((c, ctx) => {
    if (c.min_length > c.max_length) ctx.addIssue({ code: 'custom', path: ['min_length'], message: `min_length (${c.min_length}) exceeds max_length (${c.max_length})` });
  });

export const transcriptionConfigSchema = textLimits;
export const freeTextConfigSchema = textLimits;

export const legacyLabelConfigSchemas = {
  classification: classificationConfigSchema,
  multi_label: multiLabelConfigSchema,
  bounding_boxes: boundingBoxesConfigSchema,
  text_spans: textSpansConfigSchema,
  transcription: transcriptionConfigSchema,
  free_text: freeTextConfigSchema,
} satisfies Record<TaskTypeName, z.ZodType>;

export type LabelConfigOf<T extends TaskTypeName> = z.output<(typeof legacyLabelConfigSchemas)[T]>;
export type ClassificationConfig = LabelConfigOf<'classification'>;
export type MultiLabelConfig = LabelConfigOf<'multi_label'>;
export type BoundingBoxesConfig = LabelConfigOf<'bounding_boxes'>;
export type TextSpansConfig = LabelConfigOf<'text_spans'>;
export type TextConfig = LabelConfigOf<'transcription'>;


/** Where a legacy config is wrong (paths inside it). */
export function safeParseLegacyLabelConfig<T extends TaskTypeName>(
  taskType: T,
  config: unknown,
): { success: true; config: LabelConfigOf<T> } | { success: false; issues: LabelIssue[] } {
  const schema = legacyLabelConfigSchemas[taskType] as unknown as z.ZodType<LabelConfigOf<T>> | undefined;
  if (!schema) return { success: false, issues: [{ path: '', message: `unknown task type ${String(taskType)}` }] };
  const parsed = schema.safeParse(config);
  return parsed.success ? { success: true, config: parsed.data } : { success: false, issues: issuesOf(parsed.error) };
}

/** Control and object names a legacy job converts to: what the first Label Studio export wrote as from_name/to_name. */
export const legacyControlName = (taskType: TaskTypeName) => (taskType === 'transcription' || taskType === 'free_text' ? 'answer' : 'label');

/**
 * The object a legacy job labels. Legacy configs never said which data key workers see, so it is
 * read from a sample item when there is one: `image` (or `image_url`, `url`) for images, else `text`.
 */
export function legacyObjectFor(taskType: TaskTypeName, sampleData?: Record<string, unknown> | null, size?: { width: number; height: number }): LabelObject {
  const imageKey = ['image', 'image_url', 'url'].find((k) => typeof sampleData?.[k] === 'string');
  if (taskType === 'bounding_boxes') return { name: 'image', type: 'image', value: `$${imageKey ?? 'image'}`, ...(size ? { width: size.width, height: size.height } : {}) };
  if (taskType === 'text_spans') return { name: 'text', type: 'text', value: '$text' };
  if (imageKey && typeof sampleData?.text !== 'string') return { name: 'item', type: 'image', value: `$${imageKey}` };
  const textKey = typeof sampleData?.text === 'string' || !sampleData ? 'text' : (Object.keys(sampleData).find((k) => typeof sampleData[k] === 'string') ?? 'text');
  return { name: 'item', type: 'text', value: `$${textKey}` };
}

/**
 * The v2 config of a legacy one: one required control named `label` (`answer` for text), on one
 * object. Legacy pixel limits (min_width/min_height) have no percent equivalent without the image
 * size, so they are kept only when the job fixed the image size.
 */
export function labelConfigFromLegacy(taskType: TaskTypeName, legacy: unknown, sampleData?: Record<string, unknown> | null): LabelConfig {
  const parsed = safeParseLegacyLabelConfig(taskType, legacy);
  if (!parsed.success) throw new LabelConfigError(parsed.issues);
  const name = legacyControlName(taskType);
  let object: LabelObject;
  let control: Record<string, unknown>;
  switch (taskType) {
    case 'classification': {
      const c = parsed.config as ClassificationConfig;
      object = legacyObjectFor(taskType, sampleData);
      control = { type: 'choices', choices: c.labels, multiple: false };
      break;
    }
    case 'multi_label': {
      const c = parsed.config as MultiLabelConfig;
      object = legacyObjectFor(taskType, sampleData);
      control = { type: 'choices', choices: c.labels, multiple: true, min: c.min_picks, max: c.max_picks, required: c.min_picks > 0 };
      break;
    }
    case 'bounding_boxes': {
      const c = parsed.config as BoundingBoxesConfig;
      const size = c.image_width !== undefined && c.image_height !== undefined ? { width: c.image_width, height: c.image_height } : undefined;
      object = legacyObjectFor(taskType, sampleData, size);
      control = {
        type: 'rectangle',
        labels: c.labels,
        can_rotate: false,
        required: c.min_boxes > 0,
        min: c.min_boxes,
        max: c.max_boxes,
        ...(size ? { min_width: (c.min_width * 100) / size.width, min_height: (c.min_height * 100) / size.height } : {}),
      };
      break;
    }
    case 'text_spans': {
      const c = parsed.config as TextSpansConfig;
      object = legacyObjectFor(taskType, sampleData);
      control = { type: 'labels', labels: c.entity_types, allow_overlap: c.allow_overlap, max: c.max_spans, required: false };
      break;
    }
    default: {
      const c = parsed.config as TextConfig;
      object = legacyObjectFor(taskType, sampleData);
      control = { type: 'textarea', min_length: c.min_length, max_length: c.max_length, max_items: 1 };
    }
  }
  // Required (answered, and not empty) where the legacy answer could not be empty.
  return parseLabelConfig({ version: 2, objects: [object], controls: [{ name, to_name: object.name, required: true, ...control }] });
}

const round = (n: number) => Math.round(n * 1e9) / 1e9;

/**
 * A legacy answer in the v2 shape, or null when it is not a legacy answer of this type. Pixel boxes
 * need the image size (the job's, or the item's `image_width`/`image_height`): without one they
 * cannot become percent, and the result says so.
 */
export function answerFromLegacy(
  taskType: TaskTypeName,
  answer: unknown,
  size?: { width: number; height: number },
): { answer: Record<string, unknown> } | { error: string } | null {
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return null;
  const a = answer as Record<string, unknown>;
  const name = legacyControlName(taskType);
  const keys = Object.keys(a);
  switch (taskType) {
    case 'classification':
      return keys.length === 1 && typeof a.label === 'string' ? { answer: { [name]: { choices: [a.label] } } } : null;
    case 'multi_label':
      return keys.length === 1 && Array.isArray(a.labels) ? { answer: { [name]: { choices: a.labels } } } : null;
    case 'transcription':
    case 'free_text':
      return keys.length === 1 && typeof a.text === 'string' ? { answer: { [name]: { text: [a.text] } } } : null;
    case 'text_spans': {
      if (keys.length !== 1 || !Array.isArray(a.spans)) return null;
      const spans = (a.spans as Record<string, unknown>[]).map((s) => (s && typeof s === 'object' && 'label' in s ? { start: s.start, end: s.end, labels: [s.label] } : s));
      return { answer: { [name]: { spans } } };
    }
    case 'bounding_boxes': {
      if (keys.length !== 1 || !Array.isArray(a.boxes)) return null;
      if (a.boxes.length > 0 && !size) return { error: 'legacy boxes are in pixels; the image size (image_width/image_height) is needed to convert them to percent' };
      const boxes = (a.boxes as Record<string, unknown>[]).map((b) =>
        b && typeof b === 'object' && typeof b.x === 'number' && typeof b.y === 'number' && typeof b.width === 'number' && typeof b.height === 'number' && size
          ? {
              labels: [b.label],
              x: round((b.x * 100) / size.width),
              y: round((b.y * 100) / size.height),
              width: round((b.width * 100) / size.width),
              height: round((b.height * 100) / size.height),
            }
          : b,
      );
      return { answer: { [name]: { boxes } } };
    }
  }
}
