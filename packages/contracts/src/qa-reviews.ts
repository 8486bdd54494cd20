import { z } from 'zod';
import { numericIdParam, timestampSchema } from './common.js';

// Review sampling and appeals (services/qa-sampling, README "Quality: review, predictions, appeals").

export const reviewIdParams = z.object({ id: numericIdParam });
export const appealIdParams = z.object({ id: numericIdParam });

export const reviewSchema = z
  .object({
    id: z.number().int(),
    assignment_id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    status: z.enum(['leased', 'completed']),
    payload: z.unknown().describe('The item, as the client imported it.'),
    instructions: z.string(),
    label_config: z.unknown().describe("The job's v2 label config: what a valid (corrected) answer looks like."),
    answer: z.unknown().describe('The answer under review.'),
    leased_at: timestampSchema,
    lease_expires_at: timestampSchema,
  })
  .meta({ id: 'Review' });

export const reviewLeaseSchema = z
  .object({ id: z.number().int(), status: z.enum(['leased', 'completed']), lease_expires_at: timestampSchema, last_heartbeat_at: timestampSchema.nullable() })
  .meta({ id: 'ReviewLease' });

export const completeReviewBody = z
  .strictObject({
    outcome: z.enum(['accept', 'reject', 'correct']),
    comment: z.string().trim().max(5000).default(''),
    corrected_answer: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('With `correct` only (required there): the answer as it should be, keyed by control name, valid for the label config.'),
    time_spent_ms: z.number().int().min(0).max(86_400_000).optional(),
  })
  .refine((b) => (b.outcome === 'correct') === (b.corrected_answer !== undefined), {
    message: 'corrected_answer is required with outcome "correct" and only with it',
    path: ['corrected_answer'],
  })
  .meta({ id: 'CompleteReview' });
export type CompleteReviewBody = z.infer<typeof completeReviewBody>;

export const reviewResultSchema = z
  .object({
    id: z.number().int(),
    assignment_id: z.number().int(),
    status: z.literal('completed'),
    outcome: z.enum(['accepted', 'rejected', 'corrected']),
    assignment_outcome: z.enum(['accepted', 'rejected']).describe('What the review decided for the reviewed assignment.'),
    decision_id: z.number().int().nullable().describe('The assignment decision the review made; null when it confirmed the one in force.'),
    task_decided: z.boolean().describe('A correction decided the task (it had no decision yet): the corrected answer is its result.'),
    completed_at: timestampSchema,
  })
  .meta({ id: 'ReviewResult' });

export const appealBody = z.strictObject({ reason: z.string().trim().min(1).max(5000) }).meta({ id: 'AppealRequest' });

export const appealSchema = z
  .object({
    id: z.number().int(),
    assignment_id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    rejection_decision_id: z.number().int(),
    worker_level: z.number().int().describe("The appellant's level in the job's skill: a decider's must be higher."),
    reason: z.string(),
    status: z.enum(['pending', 'upheld', 'denied']),
    comment: z.string().nullable(),
    decision_id: z.number().int().nullable().describe('The accepting decision an upheld appeal made (it supersedes the rejection).'),
    created_at: timestampSchema,
    decided_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Appeal' });

export const decideAppealBody = z
  .strictObject({ outcome: z.enum(['upheld', 'denied']), comment: z.string().trim().min(1).max(5000) })
  .meta({ id: 'DecideAppeal' });

export const appealListQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) });
export const appealListSchema = z.object({ data: z.array(appealSchema) }).meta({ id: 'AppealList' });
