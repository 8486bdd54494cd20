import { z } from 'zod';

/** Results export and data purge of a job (task-dispatch). */

export const resultsFormatSchema = z.enum(['jsonl', 'csv', 'coco', 'labelstudio', 'yolo', 'conll']);
export type ResultsFormat = z.infer<typeof resultsFormatSchema>;

export const resultsQuerySchema = z.strictObject({
  format: resultsFormatSchema
    .default('jsonl')
    .describe('`coco` and `yolo` need a rectangle or polygon control (yolo: rectangle), `conll` a labels control on a text (422 otherwise).'),
  include: z.enum(['annotations']).optional().describe("`annotations`: also every annotator's answer, status and time spent."),
  control: z.string().min(1).max(200).optional().describe('coco, yolo, conll: the control to export (default: every fitting control; conll: the first labels control).'),
});

export const jobDataPurgeStatusSchema = z.enum(['pending', 'completed']);

export const jobDataPurgeSchema = z
  .object({
    job_id: z.uuid(),
    status: jobDataPurgeStatusSchema.describe(
      "`pending`: the task data is erased and the annotators' answers are being erased by the service that holds them; `completed`: all of it is erased.",
    ),
    requested_at: z.date().describe('When the purge was first requested; task data was erased then.'),
    completed_at: z.date().nullable().describe('When the last of the data was erased; null while pending.'),
    tasks_purged: z.number().int().describe('Tasks whose payload, predictions, gold answer and result were erased.'),
    assignments_purged: z.number().int().nullable().describe("Annotators' answers erased; null while pending."),
    already_requested: z.boolean().describe('true when an earlier request started this purge; this one changed nothing.'),
  })
  .meta({ id: 'JobDataPurge' });
