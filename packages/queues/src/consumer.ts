import { DelayedError, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { isDatabaseUnavailable } from '@fairlabel/db';
import type { Redis } from 'ioredis';
import { eventSchemas, subscriptions, type EventName, type EventPayload, type QueueName } from '@fairlabel/contracts';
import type { Logger } from '@fairlabel/observability';
import { BATCH_JOB_NAME, DEFAULT_BATCH_EVENTS, isOutboxId } from './batches.js';
import { outboxJobId } from './queue-set.js';

export interface HandlerContext {
  /** The event's own stable id: `outbox-<row id>` for an outbox event (in a batch or not), else the job's id. */
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
  /** Events this process runs at once, across its jobs (default 8). */
  concurrency?: number;
  /** BullMQ jobs held at once; default jobConcurrencyFor(concurrency). */
  jobConcurrency?: number;
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
 * A bound on the events a consumer process runs at once, across all its jobs. Taking a slot is
 * synchronous while slots are free, so a batch job's handlers all start in the same tick and a
 * GroupCommit behind them gathers the whole batch into one flush.
 */
class EventSlots {
  private waiting: (() => void)[] = [];

  constructor(private free: number) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) {
      this.free--;
      return this.call(work);
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.call(work));
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Events per batch job the job concurrency is sized for (the relay's default batch). */
const EVENTS_PER_JOB = DEFAULT_BATCH_EVENTS;

/**
 * How many jobs a consumer holds at once for an event budget of `concurrency`: enough batch jobs to
 * fill the budget, plus one fetched while the others run, at least two. Not `concurrency` jobs: with
 * batches of 500 that would hold 500 times the budget in memory.
 */
export function jobConcurrencyFor(concurrency: number): number {
  return Math.max(2, Math.ceil(concurrency / EVENTS_PER_JOB) + 1);
}

interface ValidEvent {
  id: number;
  event: EventName;
  payload: EventPayload<EventName>;
  handler: EventHandler<EventName>;
}

/** Up to ten items of a list in an error message, and how many more there are. */
function listed(items: string[]): string {
  return items.length > 10 ? `${items.slice(0, 10).join('; ')}; … and ${items.length - 10} more` : items.join('; ');
}

/**
 * A BullMQ worker for one queue. It refuses to start unless every event the queue subscribes to has
 * exactly one handler (an event without one would pile up or be dropped), validates each payload at
 * the boundary, and lets BullMQ retry handler errors with the queue's exponential backoff — except
 * failures on our own database outage, which are retried within seconds without spending an attempt.
 *
 * Jobs come in two shapes. A batch job (`events`, from the outbox relay: `{ events: [{ id, event,
 * payload }] }`) runs the handlers of all its valid events at once (so a service's GroupCommit makes
 * them one SQL batch) and completes only when every one succeeded; a handler error retries the whole
 * job, which is safe because every handler is idempotent. An invalid event (unknown to the queue, or a
 * payload that fails its schema) does not hold up the others: they are handled first, then the job
 * fails unrecoverably naming the invalid events, and stays visible as failed for an operator to retry
 * (after a fix) or discard. It stays failed rather than completing without them because Postgres keeps
 * a failed batch's rows in flight: were Redis to lose the job, the reconciler publishes it again and
 * the failure shows again, where a completed batch would have marked the invalid event consumed.
 * A single-event job (named after its event: jobs added before batching, the reconciler's
 * `qa-<assignment>` jobs) is validated and handled alone as before; an invalid one fails at once.
 *
 * `concurrency` is the number of events the process runs at once (as it was when a job was an event);
 * the worker holds jobConcurrencyFor(concurrency) jobs, or `jobConcurrency` when given.
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
  const concurrency = opts.concurrency ?? 8;
  const slots = new EventSlots(concurrency);

  /** The event's handler and its parsed payload, or why it cannot be handled. */
  const validate = (event: unknown, data: unknown): { ok: true; handler: EventHandler<EventName>; payload: EventPayload<EventName> } | { ok: false; reason: string } => {
    const name = String(event) as EventName;
    const handler = opts.handlers[name] as EventHandler<EventName> | undefined;
    const schema = eventSchemas[name];
    if (!handler || !schema) return { ok: false, reason: `no handler for event ${name} on queue ${opts.queue}` };
    const parsed = schema.safeParse(data);
    if (!parsed.success) return { ok: false, reason: `invalid ${name} payload: ${parsed.error.message}` };
    return { ok: true, handler, payload: parsed.data as EventPayload<EventName> };
  };

  const single = async (job: Job, token: string | undefined): Promise<void> => {
    const v = validate(job.name, job.data);
    if (!v.ok) throw new UnrecoverableError(v.reason);
    await retryOnDatabaseOutage(job, token, log, () =>
      slots.run(() => v.handler(v.payload, { jobId: String(job.id), attempt: job.attemptsMade + 1, log: log.child({ jobId: job.id, event: job.name }) })),
    );
  };

  const batch = async (job: Job, token: string | undefined): Promise<{ handled: number }> => {
    const events = (job.data as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new UnrecoverableError(`batch job ${job.id} has no events array`);
    const valid: ValidEvent[] = [];
    const invalid: string[] = [];
    for (const [i, raw] of events.entries()) {
      const e = raw as { id?: unknown; event?: unknown; payload?: unknown } | null;
      const id = e?.id;
      if (!isOutboxId(id)) {
        invalid.push(`event #${i}: no outbox id`);
        continue;
      }
      const v = validate(e?.event, e?.payload);
      if (v.ok) valid.push({ id, event: String(e?.event) as EventName, payload: v.payload, handler: v.handler });
      else invalid.push(`outbox ${id}: ${v.reason}`);
    }
    await retryOnDatabaseOutage(job, token, log, async () => {
      const attempt = job.attemptsMade + 1;
      // Each handler sees its event's own stable id (as when it was a job of its own), not the batch's:
      // an effect keyed by it stays the same whichever batch carries the event.
      const outcomes = await Promise.allSettled(
        valid.map((v) => slots.run(() => v.handler(v.payload, { jobId: outboxJobId(v.id), attempt, log: log.child({ jobId: job.id, outboxId: v.id, event: v.event }) }))),
      );
      const failures: { v: ValidEvent; err: unknown }[] = [];
      outcomes.forEach((o, i) => {
        if (o.status === 'rejected') failures.push({ v: valid[i]!, err: o.reason });
      });
      if (failures.length === 0) return;
      // Postgres unavailable: the whole job goes back soon without spending an attempt.
      const outage = failures.find((f) => isDatabaseUnavailable(f.err));
      if (outage) throw outage.err;
      for (const f of failures) log.warn({ jobId: job.id, outboxId: f.v.id, event: f.v.event, attempt, err: (f.err as Error)?.message ?? String(f.err) }, 'event handler failed in a batch');
      const err = new Error(
        `${failures.length} of ${events.length} events failed (the batch is retried whole; handlers are idempotent): ${listed(failures.map((f) => `outbox ${f.v.id} (${f.v.event}): ${(f.err as Error)?.message ?? String(f.err)}`))}`,
      );
      if (failures[0]!.err instanceof Error && failures[0]!.err.stack) err.stack = `${err.message}\n  first failure: ${failures[0]!.err.stack}`;
      throw err;
    });
    if (invalid.length) {
      throw new UnrecoverableError(`${invalid.length} of ${events.length} events cannot be handled (the other ${valid.length} were): ${listed(invalid)}`);
    }
    return { handled: valid.length };
  };

  const worker = new Worker(
    opts.queue,
    async (job: Job, token?: string) => (job.name === BATCH_JOB_NAME ? batch(job, token) : single(job, token)),
    {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.jobConcurrency ?? jobConcurrencyFor(concurrency),
      autorun: true,
      ...workerTimings(opts.stalledMs),
    },
  );
  worker.on('failed', (job, err) => {
    log.warn({ jobId: job?.id, event: job?.name, attempt: job?.attemptsMade, err: err.message }, 'event handler failed');
  });
  worker.on('error', (err) => log.error({ err }, 'queue worker error'));
  return worker;
}
