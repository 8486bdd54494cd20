import { z } from 'zod';
import { timestampSchema } from './common.js';

// QA reports (qa-sampling's routes): a job's quality for its client, a worker's quality for its vendor
// and for the worker. Accuracies are smoothed gold accuracies (a Beta prior of 6 answers at 0.7), so
// three lucky answers do not read as an expert.

const accuracy = z.number().min(0).max(1);

const goldRecordSchema = z.object({
  gold_total: z.number().int().describe('Gold answers scored (suspect gold items excluded; fast answers count as failed).'),
  gold_correct: z.number().int(),
  accuracy: accuracy.describe('Smoothed gold accuracy (posterior mean).'),
});

export const jobQaReportSchema = z
  .object({
    job_id: z.uuid(),
    consensus_method: z.enum(['majority', 'accuracy_weighted', 'dawid_skene']),
    tasks: z.object({
      decided: z.number().int().describe('Tasks QA decided.'),
      waiting: z.number().int().describe('Tasks with some answers, waiting for the rest.'),
    }),
    agreement: z.object({
      mean: accuracy.nullable().describe('Mean agreement of the decided tasks; null before the first decision.'),
      distribution: z
        .array(z.object({ from: z.number(), to: z.number(), tasks: z.number().int() }))
        .describe('Decided tasks by agreement, in ten buckets [0, 0.1), …, [0.9, 1].'),
    }),
    decisions: z.object({ accepted: z.number().int(), rejected: z.number().int(), gold_accepted: z.number().int(), gold_rejected: z.number().int() }),
    gold: z.object({
      by_worker: z.array(goldRecordSchema.extend({ worker_id: z.uuid(), vendor_id: z.uuid() })).describe('Gold answers on this job, per worker.'),
      by_vendor: z.array(goldRecordSchema.extend({ vendor_id: z.uuid() })),
      suspect_items: z.number().int().describe('Gold items QA stopped counting: most high-accuracy workers failed them.'),
    }),
    overlap: z.object({
      extra_annotations: z.number().int().describe('Annotations beyond the job\'s overlap that dynamic overlap asked for, on decided tasks.'),
      tasks_with_extra: z.number().int(),
      requests: z.number().int().describe('Tasks QA asked for more annotations on, decided or not.'),
    }),
    automation: z.object({ automated_tasks: z.number().int(), share: accuracy.nullable() }),
    reviews: z
      .object({
        sampled: z.number().int().describe('Submissions sampled for review (review_sample_rate).'),
        open: z.number().int().describe('Sampled, not yet reviewed (pending or leased).'),
        accepted: z.number().int(),
        rejected: z.number().int(),
        corrected: z.number().int(),
        appeals: z.object({ pending: z.number().int(), upheld: z.number().int(), denied: z.number().int() }),
      })
      .describe('Review outcomes and appeals (README "Quality: review, predictions, appeals").'),
    estimated_accuracy: accuracy
      .nullable()
      .describe('Expected share of decided results that are right: the mean of each decision\'s confidence (its posterior under the job\'s method).'),
  })
  .meta({ id: 'JobQaReport' });
export type JobQaReport = z.infer<typeof jobQaReportSchema>;

export const workerQualitySchema = z
  .object({
    worker_id: z.uuid(),
    vendor_id: z.uuid(),
    skills: z.array(
      goldRecordSchema.extend({
        skill: z.string().describe('The jobs\' required skill (`*`: jobs that require none).'),
        accuracy_interval: z.object({ lower: accuracy, upper: accuracy }).describe('90% credible interval of the gold accuracy.'),
        fast_answers: z.number().int().describe('Answers faster than a job\'s minimum plausible time.'),
        level: z.number().int().nullable(),
        suspended_at: timestampSchema.nullable(),
      }),
    ),
    decisions: z.object({ accepted: z.number().int(), rejected: z.number().int() }),
    actions: z
      .array(
        z.object({
          action: z.enum(['promote', 'suspend', 'reinstate']),
          skill: z.string(),
          job_id: z.uuid().nullable().describe('A suspension from this one job (skill `*`: a job without a required skill, whose gold fell under its floor); null for a skill\'s actions.'),
          from_level: z.number().int().nullable(),
          to_level: z.number().int().nullable(),
          evidence: z.record(z.string(), z.unknown()),
          created_at: timestampSchema,
        }),
      )
      .describe('Promotions and suspensions (from a skill, or from one job) QA made, newest first, with the figures that caused them.'),
    recent_gold: z
      .array(
        z.object({
          assignment_id: z.number().int(),
          job_id: z.uuid(),
          skill: z.string(),
          score: accuracy,
          passed: z.boolean(),
          fast: z.boolean(),
          counted: z.boolean().describe('False when the item was later flagged suspect.'),
          scored_at: timestampSchema,
        }),
      )
      .describe('The evidence: the last 50 gold answers scored (which items were gold is shown only after they were answered).'),
  })
  .meta({ id: 'WorkerQuality' });
export type WorkerQuality = z.infer<typeof workerQualitySchema>;
