import { z } from 'zod';
import { currencySchema, minorUnitsSchema, numericIdParam, timestampSchema } from './common.js';
import { earningsByCurrencySchema } from './settlement.js';
import { workerSchema, workerSkillSchema } from './workers.js';

export const assignmentIdParams = z.object({ id: numericIdParam });

export const claimQuery = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(30)
    .default(0)
    .describe('Seconds to wait for work when none is eligible now (long poll); 0 answers at once.'),
});

export const payQuoteSchema = z
  .object({
    amount: minorUnitsSchema.describe('Pay for this annotation, in minor units of `currency`.'),
    currency: currencySchema,
    median_seconds_per_task: z.number().nullable().describe("Median time workers spent on this job's recent submissions; null before the first."),
    hourly_rate: minorUnitsSchema.nullable().describe('What `amount` works out to per hour at that median time, in minor units; null before the first submission.'),
  })
  .meta({ id: 'PayQuote' });

export const assignmentSchema = z
  .object({
    id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    worker_id: z.uuid(),
    status: z.literal('leased'),
    task_type: z.string(),
    payload: z.unknown().describe('The item to annotate, as the client imported it.'),
    instructions: z.string(),
    label_config: z.unknown().describe('The job\'s v2 label config (objects and named controls): what a valid answer looks like.'),
    prediction: z
      .object({ value: z.unknown(), confidence: z.number().nullable(), model: z.string().nullable() })
      .nullable()
      .describe("A model's pre-annotation to start from, when the client supplied one."),
    leased_at: timestampSchema,
    lease_expires_at: timestampSchema,
    pay: payQuoteSchema,
  })
  .meta({ id: 'Assignment' });

export const leaseSchema = z
  .object({
    id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    status: z.enum(['leased', 'submitted', 'accepted', 'rejected', 'expired', 'released']),
    leased_at: timestampSchema,
    lease_expires_at: timestampSchema,
    last_heartbeat_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Lease' });

export const releaseReasonSchema = z.enum(['skip', 'unclear_instructions', 'offensive_content', 'other']);
export const releaseBody = z.strictObject({
  reason: releaseReasonSchema,
  note: z.string().trim().max(2000).optional(),
});

export const submitBody = z.strictObject({
  answer: z.unknown().refine((v) => v !== undefined, 'required').describe("The annotation: an object keyed by the job's control names (see LabelConfig)."),
  time_spent_ms: z.number().int().min(0).max(86_400_000),
});

export const submissionSchema = z
  .object({
    id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    status: z.enum(['submitted', 'accepted', 'rejected']),
    answer: z.unknown(),
    time_spent_ms: z.number().int(),
    submitted_at: timestampSchema,
  })
  .meta({ id: 'Submission' });

export const MAX_VENDOR_BATCH = 500;

export const vendorClaimBody = z.strictObject({
  claims: z
    .array(z.strictObject({ worker_id: z.uuid(), count: z.number().int().min(1).max(MAX_VENDOR_BATCH).default(1) }))
    .min(1)
    .max(MAX_VENDOR_BATCH)
    .refine((c) => c.reduce((n, x) => n + x.count, 0) <= MAX_VENDOR_BATCH, `at most ${MAX_VENDOR_BATCH} assignments per call`),
});

export const vendorClaimResultSchema = z.object({
  worker_id: z.uuid(),
  assignments: z.array(assignmentSchema),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .describe('Why this worker got fewer assignments than asked (e.g. `no_eligible_task`, `daily_limit_reached`); null when all were granted.'),
});
export const vendorClaimResponse = z.object({ data: z.array(vendorClaimResultSchema) });

/** Submitted work QA has not decided yet: counted, not valued (nothing is owed until QA decides). */
export const awaitingQaSchema = z
  .object({
    currency: currencySchema,
    submitted_count: z.number().int(),
    time_spent_ms: z.number().int(),
  })
  .meta({ id: 'AwaitingQa' });

export const meSchema = z
  .object({
    worker: workerSchema,
    skills: z.array(workerSkillSchema),
    leases: z.array(leaseSchema).describe('Assignments currently leased to you.'),
    earnings: z
      .object({
        by_currency: z.array(earningsByCurrencySchema).describe('From the settlement ledger: the same figures as GET /v1/me/earnings.'),
        awaiting_qa: z.array(awaitingQaSchema).describe('Submitted work awaiting a QA decision, per currency.'),
      })
      .describe('What you have earned from the ledger (pending, approved, paid), and the work still awaiting QA.'),
  })
  .meta({ id: 'Me' });
