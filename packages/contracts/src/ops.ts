import { z } from 'zod';

// The ops API (`/v1/ops/...`, ops and admin keys): the queues, their failed jobs, and a one-call
// overview of the stack's health.

export const opsQueueParams = z.object({ name: z.string().min(1).max(100).describe('A queue name as `GET /v1/ops/queues` lists them.') });
export const opsJobParams = opsQueueParams.extend({ jobId: z.string().min(1).max(200).describe('A job id, e.g. `outbox-batch-1234-<hash>` (a batch of events), `outbox-1234` (one event, sent before batching) or `delivery-<uuid>`.') });

export const opsQueueSchema = z
  .object({
    name: z.string(),
    waiting: z.number().int().describe('Ready to run (including jobs held while the queue is paused).'),
    active: z.number().int(),
    delayed: z.number().int().describe('Waiting for a retry backoff or a scheduled time.'),
    failed: z.number().int().describe('Failed for good: every attempt spent, or unrecoverable. Retry or discard them.'),
    paused: z.boolean(),
    completed_last_hour: z.number().int().describe('Finished in the last hour (counted among the completed jobs Redis keeps).'),
    oldest_waiting_age_seconds: z.number().nullable().describe('How long the oldest waiting job has been ready to run; null when none waits.'),
  })
  .meta({ id: 'OpsQueue' });

export const opsQueuesResponse = z.object({ at: z.date(), data: z.array(opsQueueSchema) });

export const opsFailedQuery = z.object({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const opsFailedJobSchema = z
  .object({
    id: z.string(),
    queue: z.string(),
    name: z.string().describe('The event, e.g. `assignment.submitted`, or the job kind.'),
    data: z.unknown().describe('The payload: ids and a few facts, never rows or secrets.'),
    error: z.string().describe('Why the last attempt failed.'),
    stacktrace: z.array(z.string()).describe('The first lines of the last attempt’s stack trace.'),
    attempts_made: z.number().int(),
    max_attempts: z.number().int(),
    created_at: z.date(),
    failed_at: z.date().nullable(),
    outbox_id: z.number().int().nullable().describe('The outbox row a single-event job (`outbox-<id>`) was published from; null for a batch and for jobs not from the outbox.'),
    outbox_ids: z
      .array(z.number().int())
      .describe('The outbox rows the job carries: every event of a batch job (`outbox-batch-…`, name `events`), or the one row of a single-event job; empty for jobs not from the outbox.'),
  })
  .meta({ id: 'OpsFailedJob' });

export const opsFailedPage = z.object({
  data: z.array(opsFailedJobSchema),
  next_cursor: z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page.'),
});

export const opsRetryQuery = z.object({
  reset_attempts: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('`true`: the queue’s whole retry schedule again; default: one more attempt.'),
});

export const opsJobActionSchema = z.object({
  queue: z.string(),
  job_id: z.string(),
  status: z.enum(['waiting', 'discarded']),
  outbox_id: z.number().int().nullable(),
  outbox_ids: z.array(z.number().int()).describe('The outbox rows the job carries (a discard marks them `discarded_at`).'),
});

export const opsOverviewSchema = z
  .object({
    at: z.date(),
    workers: z.object({
      active: z.number().int().describe('Workers holding a live lease now.'),
      claimed_last_minute: z.number().int().describe('Distinct workers who claimed a task in the last minute.'),
    }),
    claims_per_minute: z.number().int().describe('Leases granted in the last minute.'),
    leases: z.object({
      live: z.number().int(),
      expiring_within_60s: z.number().int().describe('Live leases that expire within a minute unless their worker heartbeats or submits.'),
      past_expiry: z.number().int().describe('Leases past their expiry the scheduler has not expired yet (should stay near 0).'),
    }),
    jobs: z.object({
      active: z.number().int(),
      paused: z.number().int(),
      behind_deadline: z.number().int().describe('Active or paused jobs whose deadline has passed.'),
    }),
    outbox: z.object({
      unsent: z.number().int().describe('Committed events the relay has not handed to Redis yet.'),
      lag_seconds: z.number().describe('Age of the oldest of them (0 when none).'),
    }),
    queues: z.object({
      waiting: z.number().int(),
      failed: z.number().int(),
      oldest_waiting_age_seconds: z.number().nullable(),
      paused: z.array(z.string()),
    }),
    reconciler: z.object({
      last_run_at: z.date().nullable(),
      last_trigger: z.string().nullable(),
      last_run_repaired: z.record(z.string(), z.number().int()),
      repaired_total: z.record(z.string(), z.number().int()).describe('Items re-published per kind since Redis last lost the count (Prometheus keeps the full history).'),
    }),
  })
  .meta({ id: 'OpsOverview' });
