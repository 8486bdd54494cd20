import { z } from 'zod';

/** Results export and data purge of a job (task-dispatch). */

export const resultsFormatSchema = z.enum(['jsonl', 'csv', 'coco', 'labelstudio']);
export type ResultsFormat = z.infer<typeof resultsFormatSchema>;

export const resultsQuerySchema = z.strictObject({
  format: resultsFormatSchema.default('jsonl').describe('`coco` is for bounding-box jobs only (422 otherwise).'),
  include: z.enum(['annotations']).optional().describe("`annotations`: also every annotator's answer, status and time spent."),
});

export const jobDataPurgeSchema = z
  .object({
    job_id: z.uuid(),
    purged_at: z.date(),
    tasks_purged: z.number().int(),
    assignments_purged: z.number().int(),
    already_purged: z.boolean().describe('true when an earlier request purged the data; this one changed nothing.'),
  })
  .meta({ id: 'JobDataPurge' });
