import { z } from 'zod';
import { countryCodeSchema, currencySchema, minorUnitsTotalSchema, pageOf, priceMinorSchema, pageQuerySchema, timestampSchema } from './common.js';
import { taskTypeSchema } from './label-config-legacy.js';
import { defaultPayPolicy, payPolicySchema } from './pay-policy.js';

export const jobStatusSchema = z.enum(['draft', 'active', 'paused', 'completed', 'cancelled']);
export type JobStatusName = z.infer<typeof jobStatusSchema>;

const requiredSkillSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits, `_.-`, up to 64 characters');

export const qaPolicySchema = z
  .strictObject({
    gold_ratio: z.number().min(0).max(1).default(0).describe('Share of items a worker sees that are gold checks.'),
    review_sample_rate: z.number().min(0).max(1).default(0).describe('Share of submissions sent to review by a higher-level worker.'),
    consensus_method: z.enum(['majority', 'accuracy_weighted', 'dawid_skene']).default('majority'),
    accuracy_floor: z.number().min(0).max(1).default(0).describe('Workers whose gold accuracy falls below this are suspended from the skill.'),
    min_agreement: z.number().min(0).max(1).optional().describe('Below this agreement QA adds overlap to the item.'),
    auto_accept_confidence: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Predictions at or above this confidence are accepted with one human verification.'),
    max_overlap: z
      .number()
      .int()
      .min(1)
      .max(20)
      .optional()
      .describe('Dynamic overlap: below min_agreement QA asks for one more annotation at a time, up to this many (default: the job\'s overlap, i.e. none extra).'),
    min_plausible_ms: z.number().int().min(0).max(3_600_000).optional().describe('Answers faster than this are flagged as implausible; on gold they count as failed.'),
    min_gold_for_suspension: z.number().int().min(1).max(10_000).optional().describe('N: gold answers needed before accuracy_floor can suspend a worker (default 10).'),
    promotion_bar: z.number().min(0).max(1).optional().describe('Smoothed gold accuracy that promotes a worker one level (default 0.9).'),
    min_gold_for_promotion: z.number().int().min(1).max(10_000).optional().describe('M: gold answers since the last level change needed for a promotion (default 20).'),
    reviewer_level: z.number().int().min(1).max(5).optional().describe('Review sampling: the lowest level (in the job\'s skill) a reviewer needs (default 2).'),
    review_same_vendor: z.boolean().optional().describe('false: nobody reviews work of their own vendor (default true: only their own work is excluded).'),
    prediction_mode: z
      .enum(['auto', 'verify', 'assist'])
      .optional()
      .describe(
        'What a model prediction at or above prediction_threshold does: `auto` decides the task with no human (automated work), `verify` needs one ' +
          'agreeing annotation (paid at the verify rate), `assist` (default) only shows it to workers as a pre-annotation.',
      ),
    prediction_threshold: z.number().min(0).max(1).optional().describe('Confidence a prediction needs for prediction_mode (default: auto_accept_confidence, else 0.9).'),
  })
  .meta({ id: 'QaPolicy' });

export type PredictionMode = 'auto' | 'verify' | 'assist';
export const DEFAULT_PREDICTION_THRESHOLD = 0.9;

/**
 * A job's stored qa_policy, parsed with its defaults. Stored policies were validated on the way in; a
 * row that predates a field parses with its default, and one that no longer parses reads as the defaults.
 */
export function storedQaPolicy(stored: unknown): z.infer<typeof qaPolicySchema> {
  const parsed = qaPolicySchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : qaPolicySchema.parse({});
}

/**
 * What a job's model predictions do, from its stored qa_policy (storedQaPolicy: defaults filled in).
 * Shared by task-dispatch, which opens one slot for a task whose prediction qualifies under `verify`,
 * and qa-sampling, which confirms it: both must read the policy alike.
 */
export function predictionPolicyOf(stored: unknown): { mode: PredictionMode; threshold: number } {
  return predictionPolicyFrom(storedQaPolicy(stored));
}

/** predictionPolicyOf for a policy already parsed by storedQaPolicy. */
export function predictionPolicyFrom(p: z.infer<typeof qaPolicySchema>): { mode: PredictionMode; threshold: number } {
  return {
    // auto_accept_confidence predates prediction_mode and meant "accepted with one human verification".
    mode: p.prediction_mode ?? (p.auto_accept_confidence !== undefined ? 'verify' : 'assist'),
    threshold: p.prediction_threshold ?? p.auto_accept_confidence ?? DEFAULT_PREDICTION_THRESHOLD,
  };
}

/**
 * A prediction qualifies for its job's prediction_mode when it has a confidence at or above the
 * threshold. tasks.prediction_confidence is a `real`, so both sides are compared as float32 (as
 * Postgres compares `real >= threshold`): the importer sees the double it parsed, QA the float it reads
 * back, and without rounding both alike a confidence a hair above a threshold could qualify at import
 * (one slot) and not at QA (no confirmation), leaving a task decided by one unconfirmed answer.
 */
export const predictionQualifies = (confidence: number | null | undefined, threshold: number): boolean =>
  confidence !== null && confidence !== undefined && Math.fround(confidence) >= Math.fround(threshold);

const jobFields = {
  name: z.string().trim().min(1).max(200),
  task_type: taskTypeSchema.describe(
    'Only with the first API\'s config form (`label_config` of one task type, e.g. `{labels: [..]}` for classification), which is converted to a v2 config on the way in.',
  ),
  label_config: z
    .union([z.record(z.string(), z.unknown()), z.string().max(1_000_000)])
    .describe(
      'A v2 config `{objects: [{name, type, value: "$key"}], controls: [{name, type, to_name, ...}]}` (see LabelConfig), a Label Studio XML config ' +
        '(a string, with `label_config_format: "labelstudio"`), or with `task_type` the first API\'s form. Invalid configs are a 422 `invalid_label_config` ' +
        'naming the field (XML: the tag and its line).',
    ),
  label_config_format: z.enum(['fairlabel', 'labelstudio']).describe('`labelstudio`: `label_config` is Label Studio XML. Defaults from the type of `label_config`.'),
  instructions: z.string().max(50_000),
  required_skill: requiredSkillSchema.nullable(),
  min_level: z.number().int().min(1).max(5),
  overlap: z.number().int().min(1).max(9).describe('Annotations per item.'),
  pay_per_annotation: priceMinorSchema.describe('Paid to the worker per accepted annotation, in minor units of `currency` (at most 10^10).'),
  client_price_per_item: priceMinorSchema.describe('Charged to the client per decided item, in minor units of `currency` (at most 10^10).'),
  currency: currencySchema,
  vendor_allowlist: z.array(z.uuid()).max(1000).nullable().describe('null: any vendor may work the job.'),
  vendor_share_caps: z
    .record(z.uuid(), z.number().gt(0).max(1))
    .describe('vendor id -> the largest share (0..1] of the job\'s assignments that vendor may hold.'),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  deadline: z.iso.datetime({ offset: true }).nullable(),
  lease_seconds: z.number().int().min(30).max(86_400),
  qa_policy: qaPolicySchema,
  pay_policy: payPolicySchema,
  contains_pii: z.boolean(),
  allowed_regions: z.array(countryCodeSchema).min(1).max(300).nullable().describe('Countries whose workers may see the data; null: anywhere.'),
};

export const createJobBody = z
  .strictObject({
    ...jobFields,
    task_type: jobFields.task_type.optional(),
    label_config_format: jobFields.label_config_format.optional(),
    instructions: jobFields.instructions.default(''),
    required_skill: jobFields.required_skill.default(null),
    min_level: jobFields.min_level.default(1),
    overlap: jobFields.overlap.default(1),
    vendor_allowlist: jobFields.vendor_allowlist.default(null),
    vendor_share_caps: jobFields.vendor_share_caps.default({}),
    priority: jobFields.priority.default(0),
    deadline: jobFields.deadline.default(null),
    lease_seconds: jobFields.lease_seconds.default(600),
    qa_policy: qaPolicySchema.default({ gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0 }),
    pay_policy: payPolicySchema.default(defaultPayPolicy),
    contains_pii: jobFields.contains_pii.default(false),
    allowed_regions: jobFields.allowed_regions.default(null),
  })
  .meta({ id: 'CreateJob' });
export type CreateJobBody = z.infer<typeof createJobBody>;

/**
 * Fields that define what the work is and what it costs; they change only while the job is a draft,
 * because answers already given (and money already posted) were given under the old values.
 */
export const draftOnlyJobFields = ['task_type', 'label_config', 'label_config_format', 'overlap', 'pay_per_annotation', 'client_price_per_item', 'currency', 'pay_policy', 'contains_pii'] as const;

export const updateJobBody = z
  .strictObject(Object.fromEntries(Object.entries(jobFields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof jobFields]: z.ZodOptional<(typeof jobFields)[K]>;
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to change' })
  .meta({ id: 'UpdateJob' });
export type UpdateJobBody = z.infer<typeof updateJobBody>;

const { label_config_format: _labelConfigFormat, ...jobResponseFields } = jobFields;

export const jobSchema = z
  .object({
    id: z.uuid(),
    client_id: z.uuid(),
    ...jobResponseFields,
    task_type: z.string().describe('The kind of the config: classification, multi_label, bounding_boxes, text_spans, free_text (one control of that kind), transcription (legacy) or custom.'),
    label_config: z.record(z.string(), z.unknown()).describe('The v2 config (see LabelConfig); `GET /v1/jobs/{id}/label-config?format=labelstudio` gives it as Label Studio XML.'),

    deadline: timestampSchema.nullable(),
    qa_policy: z.record(z.string(), z.unknown()),
    pay_policy: z.record(z.string(), z.unknown()).describe('The PayPolicy as stored (jobs created before pay policies: `{}`, the defaults).'),
    status: jobStatusSchema,
    created_at: timestampSchema,
    updated_at: timestampSchema,
    activated_at: timestampSchema.nullable(),
    completed_at: timestampSchema.nullable(),
    cancelled_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Job' });

export const jobPageSchema = pageOf(jobSchema).meta({ id: 'JobPage' });
export const listJobsQuery = pageQuerySchema.extend({ status: jobStatusSchema.optional() });


export const jobProgressSchema = z
  .object({
    job_id: z.uuid(),
    status: jobStatusSchema,
    tasks: z.object({ total: z.number().int(), open: z.number().int(), decided: z.number().int(), cancelled: z.number().int() }),
    assignments: z.object({
      leased: z.number().int(),
      submitted: z.number().int().describe('Submitted and awaiting a QA decision.'),
      accepted: z.number().int(),
      rejected: z.number().int(),
    }),
    agreement: z.number().nullable().describe('Mean agreement of the decided items; null before the first decision.'),
    cost: z.object({
      currency: currencySchema,
      client_charges: minorUnitsTotalSchema.describe('Decided items x client price per item, in minor units, as a decimal string.'),
      worker_pay: minorUnitsTotalSchema.describe('Accepted annotations x pay per annotation (before level multipliers), in minor units, as a decimal string.'),
    }),
    rate_per_hour: z.number().nullable().describe('Items decided per hour, measured over the last 1,000 decisions (from the oldest of them until now).'),
    eta: timestampSchema.nullable().describe('When the open items will be decided at the recent rate; null without a recent rate or when nothing is open.'),
  })
  .meta({ id: 'JobProgress' });

// ---- task import ----

export const importFormatSchema = z.enum(['json', 'ndjson', 'csv', 'labelstudio']);
export const importQuery = z.strictObject({
  on_error: z.enum(['reject', 'skip']).default('reject').describe('reject: import nothing when any item is bad. skip: import the good items.'),
  format: importFormatSchema.optional().describe('Defaults from Content-Type; `labelstudio` is also recognised from the items\' shape.'),
});

const predictionItemSchema = z.strictObject({
  answer: z.unknown().describe('In the job\'s answer shape; validated against its label config.'),
  confidence: z.number().min(0).max(1).optional(),
  model_version: z.string().max(200).optional(),
});

/** One item of a JSON, NDJSON or Label-Studio-converted import. */
export const importItemSchema = z
  .strictObject({
    external_id: z.string().min(1).max(200).optional(),
    data: z.record(z.string(), z.unknown()).optional().describe('The item shown to workers (alias: `payload`).'),
    payload: z.record(z.string(), z.unknown()).optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    prediction: predictionItemSchema.optional(),
    predictions: z.array(predictionItemSchema).max(100).optional().describe('Several model predictions; the first is what workers start from.'),
    gold: z.unknown().optional().describe('The known right answer, in the job\'s answer shape.'),
  })
  .meta({ id: 'ImportItem' });

const importPartCountsSchema = z.object({ kept: z.number().int(), converted: z.number().int(), refused: z.number().int() });

export const importErrorSchema = z.object({
  line: z.number().int().describe('NDJSON and CSV: the line in the body (1-based; the CSV header is line 1). JSON arrays: the item\'s position (1-based); a single JSON object: 1.'),
  external_id: z.string().optional(),
  message: z.string(),
});

export const importResultSchema = z
  .object({
    job_id: z.uuid(),
    format: importFormatSchema,
    received: z.number().int().describe('Items read from the body.'),
    created: z.number().int(),
    duplicates: z.number().int().describe('Items whose external_id the job already had (or that repeated one earlier in the body).'),
    rejected: z.number().int().describe('Bad items: all of them when on_error=reject and any is bad, otherwise just the bad ones.'),
    errors: z.array(importErrorSchema).describe('The first 100 bad items (and, with on_error=skip, refused predictions and annotations).'),
    errors_truncated: z.boolean(),
    parts: z
      .object({ predictions: importPartCountsSchema, annotations: importPartCountsSchema })
      .describe(
        'What became of the predictions and annotations the items carried. predictions: kept (every one, with model_version and score). annotations: kept as prior annotations ' +
          '(who, when, result), converted (a ground-truth annotation becomes the gold answer), refused (not valid for the job; listed in errors). Counted for created items only.',
      ),
    ignored_fields: z
      .record(z.string(), z.number().int())
      .describe('Label Studio bookkeeping fields that are not stored (e.g. `drafts`, `created_at`, `project`, `result.origin`), with how many items carried each.'),
  })
  .meta({ id: 'ImportResult' });
export type ImportResult = z.infer<typeof importResultSchema>;
