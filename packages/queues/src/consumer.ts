import { DelayedError, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { isDatabaseUnavailable } from '@fairlabel/db';
import type { Redis } from 'ioredis';
import { eventSchemas, subscriptions, type EventName, type EventPayload, type QueueName } from '@fairlabel/contracts';
import type { Logger } from '@fairlabel/observability';

export interface HandlerContext {
  jobId: string;
  attempt: number;
  log: Logger;
}
export type EventHandler<E extends EventName> = (payload: EventPayload<E>, ctx: HandlerContext) => Promise<void>;
export type HandlerMap = { [E in EventName]?: EventHandler<E> };

export interface ConsumerOptions {
  queue: QueueName;
  handlers: HandlerMap;
  connection: Redis;
  prefix: string;
  logger: Logger;
  concurrency?: number;
  /** QUEUE_STALLED_MS: see workerTimings. */
  stalledMs?: number;
}

/**
 * Lock and stalled-check timings of every BullMQ worker. A job whose process died (SIGKILL, OOM) is
 * noticed as stalled once its lock (`stalledMs`) runs out, at the next check (every `stalledMs`), and
 * goes back to waiting. Every consumer is idempotent, so a job may stall many times before BullMQ
 * gives up on it (its default of one stall would fail a job for being unlucky twice).
 */
export function workerTimings(stalledMs = 30_000): Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'> {
  return { lockDuration: stalledMs, stalledInterval: stalledMs, maxStalledCount: 10 };
}

/**
 * How soon work that failed on our own database outage is tried again: the first retry after 250 ms
 * (a connection dropped by a restart is usually replaced by then), each further one of the same job
 * twice as late, at most 5 s, plus up to half again of jitter so a queue's jobs do not return together.
 */
export const DATABASE_RETRY_MIN_MS = 250;
export const DATABASE_RETRY_MAX_MS = 5000;

/** The delay before the next try of a job whose previous `outageTries` tries also met a database outage. */
export function databaseRetryDelayMs(outageTries: number, random = Math.random()): number {
  const base = Math.min(DATABASE_RETRY_MAX_MS, DATABASE_RETRY_MIN_MS * 2 ** Math.max(0, outageTries));
  return Math.round(base * (1 + random / 2));
}

/**
 * Runs `work` for a job; when it fails because our database is unavailable, the job goes back to the
 * delayed set for a retry soon (databaseRetryDelayMs) without spending one of its attempts: the outage
 * is not the event's fault, and an event must not fail for good because Postgres restarted. Other
 * errors are rethrown for BullMQ's retry with backoff.
 */
export async function retryOnDatabaseOutage<T>(job: Job, token: string | undefined, log: Logger, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!token || !isDatabaseUnavailable(err)) throw err;
    // Every start that did not end in a counted attempt (this one included) met an outage (or a stall).
    const outageTries = Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
    const delayMs = databaseRetryDelayMs(outageTries);
    log.warn({ jobId: job.id, event: job.name, delayMs, err: (err as Error).message }, 'database unavailable; retrying the job soon without counting an attempt');
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  }
}

/**
 * A BullMQ worker for one queue. It refuses to start unless every event the queue subscribes to has
 * exactly one handler (an event without one would pile up or be dropped), validates each payload at
 * the boundary (an invalid payload fails at once, unretried, and stays visible as failed), and lets
 * BullMQ retry handler errors with the queue's exponential backoff — except failures on our own
 * database outage, which are retried within seconds without spending an attempt.
 */
export function createConsumer(opts: ConsumerOptions): Worker {
  const subscribed = subscriptions[opts.queue];
  const handled = Object.keys(opts.handlers);
  const missing = subscribed.filter((e) => !handled.includes(e));
  const extra = handled.filter((e) => !subscribed.includes(e));
  if (missing.length || extra.length) {
    throw new Error(
      `queue ${opts.queue}: ${missing.length ? `no handler for ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `handlers for unsubscribed ${extra.join(', ')}` : ''}`,
    );
  }
  const log = opts.logger.child({ queue: opts.queue });
  const worker = new Worker(
    opts.queue,
    async (job: Job, token?: string) => {
      const event = job.name as EventName;
      const handler = opts.handlers[event] as EventHandler<EventName> | undefined;
      const schema = eventSchemas[event];
      if (!handler || !schema) throw new UnrecoverableError(`no handler for event ${job.name} on queue ${opts.queue}`);
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${parsed.error.message}`);
      await retryOnDatabaseOutage(job, token, log, () =>
        handler(parsed.data as EventPayload<EventName>, {
          jobId: String(job.id),
          attempt: job.attemptsMade + 1,
          log: log.child({ jobId: job.id, event }),
        }),
      );
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency ?? 8, autorun: true, ...workerTimings(opts.stalledMs) },
  );
  worker.on('failed', (job, err) => {
    log.warn({ jobId: job?.id, event: job?.name, attempt: job?.attemptsMade, err: err.message }, 'event handler failed');
  });
  worker.on('error', (err) => log.error({ err }, 'queue worker error'));
  return worker;
}
