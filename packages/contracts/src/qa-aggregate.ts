import { z } from 'zod';

/**
 * POST /v1/qa/aggregate ("bring your own labels"): categorical answers from anywhere (an MTurk batch
 * file, a Label Studio export flattened to rows) in, one decided label per item and one estimated
 * accuracy per worker out. Both bodies are streams of lines, so these schemas describe one line each.
 */
export const aggregateMethodSchema = z
  .enum(['majority', 'accuracy_weighted', 'one_coin', 'dawid_skene'])
  .describe(
    '`majority`: most votes among trusted workers (confidence = vote share). `accuracy_weighted`: each vote weighs log((K−1)p/(1−p)) with p the ' +
      "worker's accuracy from gold, else from agreement (Wawa-like; confidence = posterior). `one_coin`: EM with one accuracy per worker. " +
      '`dawid_skene`: EM with a confusion matrix per worker (one-coin below 20 answers), smoothed.',
  );

const columnName = (fallback: string) =>
  z.string().min(1).max(100).default(fallback).describe(`Field (NDJSON) or header column (CSV) holding the ${fallback}; default \`${fallback}\`.`);

export const aggregateQuery = z.strictObject({
  method: aggregateMethodSchema.default('dawid_skene'),
  format: z.enum(['ndjson', 'csv']).optional().describe('Response format; default from Accept (`text/csv` → csv), else ndjson.'),
  item_column: columnName('item'),
  worker_column: columnName('worker'),
  label_column: columnName('label'),
  gold_column: columnName('gold'),
  min_gold: z.coerce.number().int().min(1).max(10_000).default(5).describe('Gold answers after which gold alone judges a worker.'),
  untrusted_below: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe("A worker with at least `min_gold` gold answers whose smoothed gold accuracy is below this does not vote (0: nobody is excluded)."),
  max_iterations: z.coerce.number().int().min(1).max(500).default(100).describe('EM iterations at most (one_coin, dawid_skene).'),
});
export type AggregateQuery = z.infer<typeof aggregateQuery>;

export const aggregateSummaryLineSchema = z.strictObject({
  type: z.literal('summary'),
  method: aggregateMethodSchema,
  rows: z.number().int(),
  items: z.number().int(),
  workers: z.number().int(),
  labels: z.array(z.string()),
  gold_items: z.number().int(),
  gold_conflicts: z.number().int().describe('Items given two different gold labels (the first is kept).'),
  duplicate_answers: z.number().int().describe('Answers by a worker on an item they had already answered (each counts).'),
  iterations: z.number().int().nullable(),
  converged: z.boolean().nullable(),
});

export const aggregateItemLineSchema = z.strictObject({
  type: z.literal('item'),
  item: z.string(),
  label: z.string().nullable().describe('Null when every answer came from an excluded worker.'),
  confidence: z.number().min(0).max(1).describe('Posterior of the label (vote share for majority); 1 for gold items.'),
  agreement: z.number().min(0).max(1).describe("Share of the item's answers equal to the label."),
  answers: z.number().int(),
  gold: z.string().nullable(),
});

export const aggregateWorkerLineSchema = z.strictObject({
  type: z.literal('worker'),
  worker: z.string(),
  accuracy: z.number().min(0).max(1).describe('Estimated accuracy: from gold when the worker has `min_gold` gold answers, else from the model.'),
  answers: z.number().int(),
  gold_total: z.number().int(),
  gold_correct: z.number().int(),
  trusted: z.boolean().describe('False when gold excluded the worker from the vote.'),
});

/** One line of the NDJSON response: the summary first, then every worker, then every item. */
export const aggregateResponseLineSchema = z
  .discriminatedUnion('type', [aggregateSummaryLineSchema, aggregateWorkerLineSchema, aggregateItemLineSchema])
  .meta({ id: 'AggregateResponseLine' });

export type AggregateSummaryLine = z.infer<typeof aggregateSummaryLineSchema>;
export type AggregateItemLine = z.infer<typeof aggregateItemLineSchema>;
export type AggregateWorkerLine = z.infer<typeof aggregateWorkerLineSchema>;

/** Columns of the CSV response: one row per worker then per item, told apart by `type`; a field that does not apply is empty. */
export const AGGREGATE_CSV_COLUMNS = ['type', 'id', 'label', 'confidence', 'agreement', 'answers', 'gold', 'accuracy', 'gold_total', 'gold_correct', 'trusted'] as const;
