import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import { ApiError, conflict, decodeCursor, encodeCursor, notFound, writeAudit, type AuthContext } from '@fairlabel/http';
import type { Metrics } from '@fairlabel/observability';
import {
  createStackQueues,
  closeStackQueues,
  failedJobsPage,
  isStackQueue,
  JobNotFailedError,
  JobNotFoundError,
  loadFailedJob,
  outboxIdOfJob,
  outboxIdsOfJob,
  outboxRowsOfJob,
  queueStats,
  readReconcilerStats,
  removeFailedJob,
  retryFailedJob,
  stackQueueNames,
  type QueueStats,
} from '@fairlabel/queues';
import type { Clock, Deps } from '@fairlabel/runtime';

// What operators read and do through the ops API, the ops console and the stack gauges. Queues are read
// through @fairlabel/queues; tables are only read, except two records of an operator's decision: the
// audit_log row of every action, and outbox.discarded_at when a discarded job came from the outbox.

export interface OpsDeps {
  db: Db;
  redis: Redis;
  clock: Clock;
  queues: Map<string, Queue>;
}

/** The ops module's handles on the stack's queues, closed with the app. */
export function openOpsDeps(deps: Deps): OpsDeps & { close(): Promise<void> } {
  const queues = createStackQueues(deps.redis, deps.prefix);
  return { db: deps.db, redis: deps.redis, clock: deps.clock, queues, close: () => closeStackQueues(queues) };
}

/** Redis commands wait for a reconnect (BullMQ needs that); an operator's request answers 503 instead of hanging. */
const REDIS_WAIT_MS = 3000;
function fromRedis<T>(work: Promise<T>): Promise<T> {
  return within(work, REDIS_WAIT_MS, () => new ApiError(503, 'queues_unavailable', 'Redis, which holds the queues, did not answer in time', [], { 'retry-after': '5' }));
}

async function within<T>(work: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function queueOf(ops: OpsDeps, name: string): Queue {
  const queue = isStackQueue(name) ? ops.queues.get(name) : undefined;
  if (!queue) throw notFound(`queue ${name}`);
  return queue;
}

function queueAnswer(s: QueueStats) {
  return {
    name: s.name,
    waiting: s.waiting,
    active: s.active,
    delayed: s.delayed,
    failed: s.failed,
    paused: s.paused,
    completed_last_hour: s.completedLastHour,
    oldest_waiting_age_seconds: s.oldestWaitingAgeSeconds === null ? null : Math.round(s.oldestWaitingAgeSeconds * 10) / 10,
  };
}

export async function allQueueStats(ops: OpsDeps): Promise<QueueStats[]> {
  const now = Date.now();
  return fromRedis(Promise.all(stackQueueNames.map((name) => queueStats(ops.queues.get(name)!, ops.redis, now))));
}

export async function listQueues(ops: OpsDeps) {
  return { at: new Date(), data: (await allQueueStats(ops)).map(queueAnswer) };
}

export async function listFailedJobs(ops: OpsDeps, name: string, limit: number, cursor: string | undefined) {
  const queue = queueOf(ops, name);
  const after = cursor ? decodeCursor(cursor, ['int', 'key']) : null;
  const page = await fromRedis(failedJobsPage(queue, ops.redis, limit, after ? { failedAt: after[0], id: after[1] } : null));
  return {
    data: page.jobs.map((j) => ({
      id: j.id,
      queue: name,
      name: j.name,
      data: j.data,
      error: j.failedReason,
      stacktrace: j.stacktrace,
      attempts_made: j.attemptsMade,
      max_attempts: j.maxAttempts,
      created_at: j.createdAt,
      failed_at: j.failedAt,
      outbox_id: outboxIdOfJob(j.id),
      outbox_ids: j.outboxIds,
    })),
    next_cursor: page.next ? encodeCursor([page.next.failedAt, page.next.id]) : null,
  };
}

async function failedJobOf(ops: OpsDeps, name: string, jobId: string) {
  const queue = queueOf(ops, name);
  try {
    return await fromRedis(loadFailedJob(queue, jobId));
  } catch (err) {
    throw explain(err, name, jobId);
  }
}

function explain(err: unknown, name: string, jobId: string): unknown {
  if (err instanceof JobNotFoundError) return notFound(`job ${jobId} in queue ${name}`);
  if (err instanceof JobNotFailedError) return conflict('job_not_failed', `job ${jobId} is ${err.state}, not failed: only failed jobs can be retried or discarded`, [{ path: 'params.jobId', message: err.state, state: err.state }]);
  return err;
}

/** A failed job goes back to waiting: one more attempt, or with `resetAttempts` the whole retry schedule. */
export async function retryJob(ops: OpsDeps, caller: AuthContext, name: string, jobId: string, resetAttempts: boolean) {
  const job = await failedJobOf(ops, name, jobId);
  try {
    await fromRedis(retryFailedJob(job, resetAttempts));
  } catch (err) {
    throw explain(err, name, jobId);
  }
  await writeAudit(ops.db, caller, { action: 'ops.job.retry', resourceType: 'queue_job', resourceId: `${name}/${jobId}`, details: { reset_attempts: resetAttempts, error: job.failedReason } });
  return { queue: name, job_id: jobId, status: 'waiting' as const, outbox_id: outboxIdOfJob(jobId), outbox_ids: outboxIdsOfJob(job) };
}

/**
 * A failed job is given up for good. Events from the outbox are first marked discarded in Postgres, so
 * the reconciler does not re-publish them once Redis no longer holds the job: for a batch job, every
 * row recorded as carried by it (a row the job also carries but that was committed with another batch
 * is that batch's to account for); for a single-event job, its row. Then the job is removed.
 */
export async function discardJob(ops: OpsDeps, caller: AuthContext, name: string, jobId: string) {
  const job = await failedJobOf(ops, name, jobId);
  const rows = outboxRowsOfJob(jobId);
  await ops.db.transaction().execute(async (trx) => {
    if (rows && 'batchId' in rows) {
      await trx
        .updateTable('outbox')
        .set({ discarded_at: ops.clock.now() })
        .where('batch_id', '=', rows.batchId)
        .where('consumed_at', 'is', null)
        .where('discarded_at', 'is', null)
        .execute();
    } else if (rows) {
      await trx.updateTable('outbox').set({ discarded_at: ops.clock.now() }).where('id', '=', rows.outboxId).where('discarded_at', 'is', null).execute();
    }
    await writeAudit(trx, caller, {
      action: 'ops.job.discard',
      resourceType: 'queue_job',
      resourceId: `${name}/${jobId}`,
      // A batch's payloads stay in the outbox; the audit row names its rows.
      details:
        rows && 'batchId' in rows
          ? { event: job.name, outbox_ids: outboxIdsOfJob(job), error: job.failedReason, attempts_made: job.attemptsMade }
          : { event: job.name, data: job.data as unknown, error: job.failedReason, attempts_made: job.attemptsMade },
    });
  });
  try {
    await fromRedis(removeFailedJob(job));
  } catch (err) {
    throw explain(err, name, jobId);
  }
  return { queue: name, job_id: jobId, status: 'discarded' as const, outbox_id: rows && 'outboxId' in rows ? rows.outboxId : null, outbox_ids: outboxIdsOfJob(job) };
}

/** Pauses or resumes a queue: its consumers take no new jobs while paused; producers keep adding. */
export async function setPaused(ops: OpsDeps, caller: AuthContext, name: string, paused: boolean) {
  const queue = queueOf(ops, name);
  await fromRedis(paused ? queue.pause() : queue.resume());
  await writeAudit(ops.db, caller, { action: paused ? 'ops.queue.pause' : 'ops.queue.resume', resourceType: 'queue', resourceId: name });
  return queueAnswer(await fromRedis(queueStats(queue, ops.redis, Date.now())));
}

/**
 * The stack at a glance. Every figure is one indexed read: live leases through their partial index,
 * recent claims from the newest assignments by id (at most RECENT_ROWS of them, so the call stays cheap
 * however large the table), unsent outbox rows through theirs.
 */
const RECENT_ROWS = 200_000;
export async function overview(ops: OpsDeps & { prefix: string }) {
  const now = ops.clock.now();
  const [leases, recent, jobs, outbox, queues, reconciler] = await Promise.all([
    sql<{ active_workers: string; live: string; expiring: string; past_expiry: string }>`
      SELECT count(DISTINCT worker_id) FILTER (WHERE lease_expires_at > ${now}::timestamptz) AS active_workers,
             count(*) FILTER (WHERE lease_expires_at > ${now}::timestamptz) AS live,
             count(*) FILTER (WHERE lease_expires_at > ${now}::timestamptz AND lease_expires_at <= ${now}::timestamptz + interval '60 seconds') AS expiring,
             count(*) FILTER (WHERE lease_expires_at <= ${now}::timestamptz) AS past_expiry
      FROM assignments WHERE status = 'leased'
    `.execute(ops.db),
    sql<{ claims: string; workers: string }>`
      SELECT count(*) FILTER (WHERE leased_at > ${now}::timestamptz - interval '1 minute') AS claims,
             count(DISTINCT worker_id) FILTER (WHERE leased_at > ${now}::timestamptz - interval '1 minute') AS workers
      FROM (SELECT leased_at, worker_id FROM assignments ORDER BY id DESC LIMIT ${RECENT_ROWS}) newest
    `.execute(ops.db),
    sql<{ active: string; paused: string; behind: string }>`
      SELECT count(*) FILTER (WHERE status = 'active') AS active,
             count(*) FILTER (WHERE status = 'paused') AS paused,
             count(*) FILTER (WHERE deadline < ${now}::timestamptz) AS behind
      FROM jobs WHERE status IN ('active', 'paused')
    `.execute(ops.db),
    outboxLag(ops.db, now),
    allQueueStats(ops),
    fromRedis(readReconcilerStats(ops.redis, ops.prefix)),
  ]);
  const l = leases.rows[0]!;
  const r = recent.rows[0]!;
  const j = jobs.rows[0]!;
  const ages = queues.map((q) => q.oldestWaitingAgeSeconds).filter((a): a is number => a !== null);
  return {
    at: now,
    workers: { active: Number(l.active_workers), claimed_last_minute: Number(r.workers) },
    claims_per_minute: Number(r.claims),
    leases: { live: Number(l.live), expiring_within_60s: Number(l.expiring), past_expiry: Number(l.past_expiry) },
    jobs: { active: Number(j.active), paused: Number(j.paused), behind_deadline: Number(j.behind) },
    outbox: { unsent: outbox.unsent, lag_seconds: outbox.lagSeconds },
    queues: {
      waiting: queues.reduce((n, q) => n + q.waiting, 0),
      failed: queues.reduce((n, q) => n + q.failed, 0),
      oldest_waiting_age_seconds: ages.length ? Math.round(Math.max(...ages) * 10) / 10 : null,
      paused: queues.filter((q) => q.paused).map((q) => q.name),
    },
    reconciler: {
      last_run_at: reconciler.lastRunAt,
      last_trigger: reconciler.lastTrigger,
      last_run_repaired: reconciler.lastRepaired,
      repaired_total: reconciler.repairedTotal,
    },
  };
}

/** Unsent outbox rows (counted up to a bound: past it the figure is "at least") and the age of the oldest. */
const UNSENT_COUNT_BOUND = 1_000_000;
export async function outboxLag(db: Db, now: Date): Promise<{ unsent: number; lagSeconds: number }> {
  const row = (
    await sql<{ unsent: string; oldest: Date | null }>`
      SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT ${UNSENT_COUNT_BOUND}) u) AS unsent,
             (SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1) AS oldest
    `.execute(db)
  ).rows[0]!;
  return { unsent: Number(row.unsent), lagSeconds: row.oldest ? Math.max(0, (now.getTime() - row.oldest.getTime()) / 1000) : 0 };
}

/**
 * Fills the queue and outbox gauges of /metrics when it is scraped. A part that cannot be read (Redis
 * or Postgres down) is left out of that scrape and counted, so one outage never fails the whole scrape.
 */
export function stackGaugeReader(ops: OpsDeps, metrics: Metrics): () => Promise<void> {
  return async () => {
    const now = ops.clock.now();
    await Promise.all([
      (async () => {
        try {
          const stats = await allQueueStats(ops);
          metrics.queueDepth.reset();
          metrics.queueOldestWaitingAge.reset();
          metrics.queuePaused.reset();
          for (const s of stats) {
            for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) metrics.queueDepth.set({ queue: s.name, state }, s[state]);
            metrics.queueOldestWaitingAge.set({ queue: s.name }, s.oldestWaitingAgeSeconds ?? 0);
            metrics.queuePaused.set({ queue: s.name }, s.paused ? 1 : 0);
          }
        } catch {
          metrics.stackGaugeFailures.inc({ source: 'redis' });
          metrics.queueDepth.reset();
          metrics.queueOldestWaitingAge.reset();
          metrics.queuePaused.reset();
        }
      })(),
      (async () => {
        try {
          const lag = await within(outboxLag(ops.db, now), REDIS_WAIT_MS, () => new Error('Postgres did not answer in time'));
          metrics.outboxUnsent.set(lag.unsent);
          metrics.outboxLag.set(lag.lagSeconds);
        } catch {
          metrics.stackGaugeFailures.inc({ source: 'postgres' });
          metrics.outboxUnsent.reset();
          metrics.outboxLag.reset();
        }
      })(),
    ]);
  };
}
