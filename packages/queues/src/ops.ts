import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames } from '@fairlabel/contracts';
import { isBatchJobId, outboxIdsOfJob } from './batches.js';
import { leaseExpiryScheduler } from './schedulers.js';
import { WEBHOOK_DELIVERY_QUEUE } from './webhook-deliveries.js';

// What operators see and do with the queues (the ops API, the ops console, the queue gauges): reads
// straight from BullMQ's Redis structures, and the few actions that are safe on a stack whose truth is
// in Postgres (retry or discard a failed job, pause or resume a queue).

/** Every BullMQ queue of the stack: one per consuming service, outbound webhook deliveries, the lease-expiry tick. */
export const stackQueueNames = [...queueNames, WEBHOOK_DELIVERY_QUEUE, leaseExpiryScheduler.queue] as const;
export type StackQueueName = (typeof stackQueueNames)[number];

export function isStackQueue(name: string): name is StackQueueName {
  return (stackQueueNames as readonly string[]).includes(name);
}

/** One BullMQ Queue handle per stack queue, on a shared connection (a Queue never blocks it). */
export function createStackQueues(connection: Redis, prefix: string): Map<StackQueueName, Queue> {
  return new Map(stackQueueNames.map((name) => [name, new Queue(name, { connection, prefix })]));
}

export async function closeStackQueues(queues: Map<string, Queue>): Promise<void> {
  await Promise.all([...queues.values()].map((q) => q.close()));
}

export interface QueueStats {
  name: string;
  /** Ready to run: in the wait list, or held there while the queue is paused, or prioritized. */
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
  /** Jobs (a batch counts once) that finished in the last hour and are still kept (event queues keep the last 2,000 completed jobs, for up to 7 days). */
  completedLastHour: number;
  /** How long the oldest waiting job has been ready to run; null when none waits. */
  oldestWaitingAgeSeconds: number | null;
}

const HOUR_MS = 3600_000;

/**
 * Counts of one queue in one round trip. "Completed in the last hour" counts the completed set by
 * score, which BullMQ sets to the finishing time. The oldest waiting job is the tail of the wait list
 * (jobs are pushed at the head and taken from the tail), or of the paused list while paused; it has
 * been ready since it was added, since its delay ran out, or since its last attempt started (a retry
 * waits out its backoff first), whichever is latest.
 */
export async function queueStats(queue: Queue, redis: Redis, nowMs: number): Promise<QueueStats> {
  const k = (type: string) => queue.toKey(type);
  const replies = await redis
    .multi()
    .llen(k('wait'))
    .llen(k('paused'))
    .zcard(k('prioritized'))
    .llen(k('active'))
    .zcard(k('delayed'))
    .zcard(k('failed'))
    .zcount(k('completed'), nowMs - HOUR_MS, '+inf')
    .hexists(k('meta'), 'paused')
    .lindex(k('wait'), -1)
    .lindex(k('paused'), -1)
    .zrange(k('prioritized'), 0, 0)
    .exec();
  if (!replies) throw new Error(`queue ${queue.name}: the Redis transaction was aborted`);
  const value = (i: number) => {
    const [err, v] = replies[i]!;
    if (err) throw err;
    return v;
  };
  const [wait, paused, prioritized, active, delayed, failed, completedLastHour, isPaused] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number(value(i)));
  // Lists of BullMQ before v5 could end with a marker ("0:..."), not a job id.
  const candidates = [value(8), value(9), ...((value(10) as string[] | null) ?? [])].filter(
    (id): id is string => typeof id === 'string' && id !== '' && !id.startsWith('0:'),
  );
  let oldestReadyAt: number | null = null;
  for (const id of candidates) {
    const [timestamp, delay, processedOn] = await redis.hmget(k(id), 'timestamp', 'delay', 'processedOn');
    if (timestamp === null) continue;
    const readyAt = Math.max(Number(timestamp) + Number(delay ?? 0), Number(processedOn ?? 0));
    oldestReadyAt = oldestReadyAt === null ? readyAt : Math.min(oldestReadyAt, readyAt);
  }
  return {
    name: queue.name,
    waiting: wait! + paused! + prioritized!,
    active: active!,
    delayed: delayed!,
    failed: failed!,
    paused: isPaused === 1,
    completedLastHour: completedLastHour!,
    oldestWaitingAgeSeconds: oldestReadyAt === null ? null : Math.max(0, (nowMs - oldestReadyAt) / 1000),
  };
}

export interface FailedJob {
  id: string;
  /** The event (or job kind) name. */
  name: string;
  data: unknown;
  failedReason: string;
  /** The last lines of the stack trace of the last attempt. */
  stacktrace: string[];
  attemptsMade: number;
  maxAttempts: number;
  createdAt: Date;
  failedAt: Date | null;
  /** The outbox rows the job carries: a batch's events, or a single event's row. */
  outboxIds: number[];
}

function failedJob(job: Job): FailedJob {
  const last = job.stacktrace?.at(-1);
  return {
    id: String(job.id),
    name: job.name,
    data: job.data as unknown,
    failedReason: job.failedReason ?? '',
    stacktrace: last ? last.split('\n').slice(0, 12) : [],
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    createdAt: new Date(job.timestamp),
    failedAt: job.finishedOn ? new Date(job.finishedOn) : null,
    outboxIds: outboxIdsOfJob({ id: job.id, name: job.name, data: job.data }),
  };
}

/** Where a page of failed jobs continues: the failing time and id of the last job shown. */
export interface FailedCursor {
  failedAt: number;
  id: string;
}

/**
 * A page of a queue's failed jobs, most recently failed first (the failed set's order: by finishing
 * time, then by id, both descending). Keyset-paged, so jobs retried or discarded meanwhile neither
 * shift nor repeat the next page.
 */
export async function failedJobsPage(queue: Queue, redis: Redis, limit: number, after: FailedCursor | null): Promise<{ jobs: FailedJob[]; next: FailedCursor | null }> {
  const key = queue.toKey('failed');
  let ids: string[];
  if (!after) {
    ids = await redis.zrevrange(key, 0, limit);
  } else {
    const rank = await redis.zrevrank(key, after.id);
    if (rank !== null) {
      ids = await redis.zrevrange(key, rank + 1, rank + 1 + limit);
    } else {
      // The last job shown has left the set: continue after its place, which its time and id still define.
      const ties = (await redis.zrevrangebyscore(key, after.failedAt, after.failedAt)).filter((id) => id < after.id);
      const older = await redis.zrevrangebyscore(key, `(${after.failedAt}`, '-inf', 'LIMIT', 0, limit + 1);
      ids = [...ties, ...older].slice(0, limit + 1);
    }
  }
  const page = ids.slice(0, limit);
  const jobs = (await Promise.all(page.map((id) => Job.fromId(queue, id)))).filter((j): j is Job => j !== undefined).map(failedJob);
  const lastId = page.at(-1);
  if (ids.length <= limit || lastId === undefined) return { jobs, next: null };
  const score = await redis.zscore(key, lastId);
  return { jobs, next: { failedAt: Number(score ?? 0), id: lastId } };
}

export class JobNotFoundError extends Error {}
export class JobNotFailedError extends Error {
  constructor(readonly state: string) {
    super(`the job is ${state}, not failed`);
  }
}

/** A failed job of the queue, or an error saying why there is none. */
export async function loadFailedJob(queue: Queue, id: string): Promise<Job> {
  const job = await Job.fromId(queue, id);
  if (!job) throw new JobNotFoundError(`no job ${id} in queue ${queue.name}`);
  const state = await job.getState();
  if (state !== 'failed') throw new JobNotFailedError(state);
  return job;
}

/**
 * Puts a failed job back to waiting. Without `resetAttempts` it gets one more attempt (it had used
 * all of them); with it, the queue's whole retry schedule again.
 */
export async function retryFailedJob(job: Job, resetAttempts: boolean): Promise<void> {
  try {
    await job.retry('failed', resetAttempts ? { resetAttemptsMade: true, resetAttemptsStarted: true } : {});
  } catch (err) {
    // Someone retried or removed it between the state check and now.
    const state = await job.getState().catch(() => 'unknown');
    if (state !== 'failed') throw new JobNotFailedError(state);
    throw err;
  }
}

/** Removes a failed job from Redis (the caller records the discard where Postgres needs it). */
export async function removeFailedJob(job: Job): Promise<void> {
  try {
    await job.remove();
  } catch (err) {
    const state = await job.getState().catch(() => 'unknown');
    if (state !== 'failed') throw new JobNotFailedError(state);
    throw err;
  }
}

/**
 * Which outbox rows a job stands for in Postgres: a batch job (`outbox-batch-…`) for every row recorded
 * with it as `batch_id`; a single-event job (`outbox-<id>`, sent before batching) for its row; other
 * jobs (deliveries, `qa-<assignment>`, scheduler ticks) for none.
 */
export function outboxRowsOfJob(jobId: string): { batchId: string } | { outboxId: number } | null {
  if (isBatchJobId(jobId)) return { batchId: jobId };
  const outboxId = outboxIdOfJob(jobId);
  return outboxId === null ? null : { outboxId };
}

/** The outbox row a single-event job was published from (`outbox-<id>`), if it was. */
export function outboxIdOfJob(jobId: string): number | null {
  const m = /^outbox-([1-9][0-9]{0,17})$/.exec(jobId);
  return m ? Number(m[1]) : null;
}
