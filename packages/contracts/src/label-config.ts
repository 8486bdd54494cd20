import { z } from 'zod';

/**
 * A job's label config, one schema per task type, and the answer validator it produces. The job
 * stores the parsed config (defaults filled in); claim/submit (worker-assignment), QA and export all
 * read answers of the shapes below, so this file is the one definition of "a valid answer".
 *
 * Answers are objects, never bare values, so a type can grow optional fields (e.g. a comment)
 * without breaking stored answers:
 *   classification  { label }
 *   multi_label     { labels: [...] }
 *   bounding_boxes  { boxes: [{ label, x, y, width, height }] }   (pixels, origin top-left)
 *   text_spans      { spans: [{ start, end, label }] }              (UTF-16 offsets, end exclusive)
 *   transcription   { text }
 *   free_text       { text }
 */

export const taskTypes = ['classification', 'multi_label', 'bounding_boxes', 'text_spans', 'transcription', 'free_text'] as const;
export type TaskTypeName = (typeof taskTypes)[number];
export const taskTypeSchema = z.enum(taskTypes);

const labelName = z.string().trim().min(1).max(100);

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

export const labelConfigSchemas = {
  classification: classificationConfigSchema,
  multi_label: multiLabelConfigSchema,
  bounding_boxes: boundingBoxesConfigSchema,
  text_spans: textSpansConfigSchema,
  transcription: transcriptionConfigSchema,
  free_text: freeTextConfigSchema,
} satisfies Record<TaskTypeName, z.ZodType>;

export type LabelConfigOf<T extends TaskTypeName> = z.output<(typeof labelConfigSchemas)[T]>;
export type ClassificationConfig = LabelConfigOf<'classification'>;
export type MultiLabelConfig = LabelConfigOf<'multi_label'>;
export type BoundingBoxesConfig = LabelConfigOf<'bounding_boxes'>;
export type TextSpansConfig = LabelConfigOf<'text_spans'>;
export type TextConfig = LabelConfigOf<'transcription'>;

/** Where a config or an answer is wrong: a dotted path inside it and what is wrong there. */
export interface LabelIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): LabelIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export class LabelConfigError extends Error {
  constructor(
    readonly taskType: string,
    readonly issues: LabelIssue[],
  ) {
    super(`invalid label config for ${taskType}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'LabelConfigError';
  }
}

export type LabelConfigResult<T extends TaskTypeName> = { success: true; config: LabelConfigOf<T> } | { success: false; issues: LabelIssue[] };

export function safeParseLabelConfig<T extends TaskTypeName>(taskType: T, config: unknown): LabelConfigResult<T> {
  const schema = labelConfigSchemas[taskType] as unknown as z.ZodType<LabelConfigOf<T>> | undefined;
  if (!schema) return { success: false, issues: [{ path: '', message: `unknown task type ${String(taskType)}` }] };
  const parsed = schema.safeParse(config);
  return parsed.success ? { success: true, config: parsed.data } : { success: false, issues: issuesOf(parsed.error) };
}

/** The typed config with defaults filled in; throws LabelConfigError listing every problem. */
export function parseLabelConfig<T extends TaskTypeName>(taskType: T, config: unknown): LabelConfigOf<T> {
  const result = safeParseLabelConfig(taskType, config);
  if (!result.success) throw new LabelConfigError(taskType, result.issues);
  return result.config;
}

/**
 * Facts about the item being answered that the config cannot know: an image's size when images
 * differ, a text's length for span offsets. Taken from the task payload by the caller.
 */
export interface AnswerContext {
  image_width?: number;
  image_height?: number;
  text_length?: number;
}

function oneOf(labels: readonly string[], what: string) {
  const allowed = new Set(labels);
  return z.string().refine((v) => allowed.has(v), { message: `not one of the job's ${what}` });
}

function classificationAnswer(c: ClassificationConfig) {
  return z.strictObject({ label: oneOf(c.labels, 'labels') });
}

function multiLabelAnswer(c: MultiLabelConfig) {
  return z.strictObject({
    labels: z
      .array(oneOf(c.labels, 'labels'))
      .min(c.min_picks, `pick at least ${c.min_picks}`)
      .max(c.max_picks, `pick at most ${c.max_picks}`)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((v, i) => {
          if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `"${v}" picked twice` });
          seen.add(v);
        });
      }),
  });
}

function boundingBoxesAnswer(c: BoundingBoxesConfig, context: AnswerContext) {
  const width = c.image_width ?? context.image_width;
  const height = c.image_height ?? context.image_height;
  const box = z
    .strictObject({
      label: oneOf(c.labels, 'labels'),
      x: z.number().min(0),
      y: z.number().min(0),
      width: z.number().min(c.min_width, `narrower than the minimum ${c.min_width}`),
      height: z.number().min(c.min_height, `lower than the minimum ${c.min_height}`),
    })
    .superRefine((b, ctx) => {
      if (width !== undefined && b.x + b.width > width) ctx.addIssue({ code: 'custom', path: ['width'], message: `box reaches x=${b.x + b.width}, past the image width ${width}` });
      if (height !== undefined && b.y + b.height > height) ctx.addIssue({ code: 'custom', path: ['height'], message: `box reaches y=${b.y + b.height}, past the image height ${height}` });
    });
  return z.strictObject({
    boxes: z.array(box).min(c.min_boxes, `draw at least ${c.min_boxes} boxes`).max(c.max_boxes, `draw at most ${c.max_boxes} boxes`),
  });
}

function textSpansAnswer(c: TextSpansConfig, context: AnswerContext) {
  const span = z
    .strictObject({
      start: z.number().int().min(0),
      end: z.number().int().min(1),
      label: oneOf(c.entity_types, 'entity types'),
    })
    .superRefine((s, ctx) => {
      if (s.start >= s.end) ctx.addIssue({ code: 'custom', path: ['end'], message: `end (${s.end}) must be greater than start (${s.start})` });
      if (context.text_length !== undefined && s.end > context.text_length) {
        ctx.addIssue({ code: 'custom', path: ['end'], message: `end (${s.end}) is past the end of the text (${context.text_length})` });
      }
    });
  return z.strictObject({
    spans: z
      .array(span)
      .max(c.max_spans, `at most ${c.max_spans} spans`)
      .superRefine((spans, ctx) => {
        if (c.allow_overlap) return;
        const order = spans.map((s, i) => ({ ...s, i })).sort((a, b) => a.start - b.start || a.end - b.end);
        for (let k = 1; k < order.length; k++) {
          const prev = order[k - 1]!;
          const cur = order[k]!;
          if (cur.start < prev.end) ctx.addIssue({ code: 'custom', path: [cur.i], message: `overlaps span ${prev.i}; this job does not allow overlapping spans` });
        }
      }),
  });
}

function textAnswer(c: TextConfig) {
  return z.strictObject({
    text: z.string().min(c.min_length, `at least ${c.min_length} characters`).max(c.max_length, `at most ${c.max_length} characters`),
  });
}

/**
 * The schema a worker's answer must pass for a job of this type and config. Throws LabelConfigError
 * when the config itself is invalid (a stored config never is: it was parsed when the job was saved).
 */
export function answerSchemaFor(taskType: TaskTypeName, config: unknown, context: AnswerContext = {}): z.ZodType {
  switch (taskType) {
    case 'classification':
      return classificationAnswer(parseLabelConfig(taskType, config));
    case 'multi_label':
      return multiLabelAnswer(parseLabelConfig(taskType, config));
    case 'bounding_boxes':
      return boundingBoxesAnswer(parseLabelConfig(taskType, config), context);
    case 'text_spans':
      return textSpansAnswer(parseLabelConfig(taskType, config), context);
    case 'transcription':
      return textAnswer(parseLabelConfig(taskType, config));
    case 'free_text':
      return textAnswer(parseLabelConfig(taskType, config));
    default:
      throw new LabelConfigError(String(taskType), [{ path: '', message: `unknown task type ${String(taskType)}` }]);
  }
}

/** Validates an answer; `issues` paths are inside the answer (e.g. `boxes.0.width`). */
export function validateAnswer(
  taskType: TaskTypeName,
  config: unknown,
  answer: unknown,
  context: AnswerContext = {},
): { success: true; answer: unknown } | { success: false; issues: LabelIssue[] } {
  const parsed = answerSchemaFor(taskType, config, context).safeParse(answer);
  return parsed.success ? { success: true, answer: parsed.data } : { success: false, issues: issuesOf(parsed.error) };
}
