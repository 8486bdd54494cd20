import { sql, type Database, type Db } from '@fairlabel/db';
import type { Transaction } from 'kysely';
import { conflict, notFound } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import type { Clock } from '@fairlabel/runtime';
import type { Redis } from 'ioredis';
import type { Logger, Metrics } from '@fairlabel/observability';
import { announceSlots } from './wakeups.js';
import type { Pool } from './prepared.js';
import { refusalColumns, refusalError, refusalJoins, type RefusalFacts } from './refusals.js';

export interface LeaseDeps {
  db: Db;
  /** The pool behind `db`, for the prepared statements of the hot path. */
  pool: Pool;
  redis: Redis;
  prefix: string;
  clock: Clock;
  logger: Logger;
  /** The process's metrics (claim latency, lease expiries); a test may leave them out. */
  metrics?: Pick<Metrics, 'claimDuration' | 'leaseExpiries'>;
}

const leaseColumns = ['id', 'task_id', 'job_id', 'status', 'leased_at', 'lease_expires_at', 'last_heartbeat_at'] as const;

/**
 * Why a lease operation found no live lease of this worker: someone else's (404), the worker or their
 * skill suspended (403) or the task closed (409 `task_closed`, wa_answer_refused.sql), or no longer
 * live (409).
 */
async function explainNotLive(db: Db, assignmentId: number, workerId: string, now: Date): Promise<never> {
  const found = await sql<RefusalFacts & { status: string; lease_expires_at: Date }>`
    SELECT a.status, a.lease_expires_at, ${refusalColumns}
    FROM assignments a
    ${refusalJoins}
    WHERE a.id = ${assignmentId} AND a.worker_id = ${workerId}::uuid
  `.execute(db);
  const a = found.rows[0];
  if (!a) throw notFound('assignment');
  // A lease ended by the job's cancellation (status released) is explained by the cancellation.
  if (a.refused && (a.status === 'leased' || a.status === 'released')) throw refusalError({ ...a, refused: a.refused });
  if (a.status === 'expired' || (a.status === 'leased' && a.lease_expires_at <= now)) {
    throw conflict('lease_expired', `the lease expired at ${a.lease_expires_at.toISOString()}; claim a new task`);
  }
  throw conflict('lease_not_active', `the assignment is ${a.status}, not leased`);
}

/**
 * Extends the holder's live lease to now + the lease interval the claim granted (wa_lease_interval.sql),
 * unless it may no longer take an answer (wa_answer_refused.sql): extending a lease that cannot be
 * submitted would only keep its slot from others.
 */
export async function heartbeat(deps: LeaseDeps, assignmentId: number, workerId: string) {
  const now = deps.clock.now();
  const row = await sql<{ id: number; task_id: number; job_id: string; status: 'leased'; leased_at: Date; lease_expires_at: Date; last_heartbeat_at: Date | null }>`
    UPDATE assignments a SET
      last_heartbeat_at = ${now}::timestamptz,
      lease_expires_at = ${now}::timestamptz + wa_lease_interval(j.lease_seconds, w.accommodations)
    FROM tasks t
    CROSS JOIN jobs j
    CROSS JOIN workers w
    LEFT JOIN worker_skills ws ON ws.worker_id = w.id AND ws.skill = j.required_skill
    LEFT JOIN worker_job_blocks jb ON jb.worker_id = w.id AND jb.job_id = j.id
    WHERE a.id = ${assignmentId} AND a.worker_id = ${workerId}::uuid AND a.status = 'leased' AND a.lease_expires_at > ${now}::timestamptz
      AND t.id = a.task_id AND j.id = a.job_id AND w.id = ${workerId}::uuid
      AND wa_answer_refused(t.status, j.status, w.status, ws.suspended_at, jb.blocked_at) IS NULL
    RETURNING ${sql.join(leaseColumns.map((c) => sql.ref(`a.${c}`)))}
  `.execute(deps.db);
  return row.rows[0] ?? explainNotLive(deps.db, assignmentId, workerId, now);
}

/** Gives a live lease back with a reason; the slot is open again at once and waiting claimers are woken. */
export async function release(deps: LeaseDeps, assignmentId: number, workerId: string, reason: string, note?: string) {
  const now = deps.clock.now();
  const released = await deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('assignments')
      .set({ status: 'released', release_reason: note ? `${reason}: ${note}` : reason, ended_at: now })
      .where('id', '=', assignmentId)
      .where('worker_id', '=', workerId)
      .where('status', '=', 'leased')
      .returning([...leaseColumns, 'vendor_id', 'worker_id'])
      .executeTakeFirst();
    if (!row) return null;
    await publish(trx, 'assignment.released', {
      assignment_id: row.id,
      task_id: row.task_id,
      job_id: row.job_id,
      worker_id: row.worker_id,
      vendor_id: row.vendor_id,
      reason,
    });
    return row;
  });
  if (!released) return explainNotLive(deps.db, assignmentId, workerId, now);
  await announceSlots(deps.redis, deps.prefix, released.job_id, deps.logger);
  return released;
}

const EXPIRY_BATCH = 500;

/** The release reason of leases ended because their job was cancelled. */
export const JOB_CANCELLED_REASON = 'job_cancelled';
/** The release reason of leases a data purge found still live (the job.cancelled event had not yet ended them). */
export const JOB_DATA_PURGED_REASON = 'job_data_purged';

/**
 * Ends live leases of a job that takes no more answers (its status one of `jobStatuses`, checked in
 * the same statement): each becomes `released` with `reason`, ended now (or at its expiry, if that
 * was earlier), with an `assignment.released` event, in the caller's transaction; at most `limit`
 * (null: all). Returns how many ended. The slot triggers give the slots back (a closed task has none
 * open) and lower capped vendors' usage; the holder learns it on the next heartbeat or submit.
 *
 * Row locks order this against an in-flight submit of the same lease: the submit either commits
 * first (the lease is then submitted, not ended) or finds the lease released and matches nothing.
 */
export async function endLiveLeases(trx: Transaction<Database>, jobId: string, reason: string, now: Date, limit: number | null, jobStatuses: string[]): Promise<number> {
  const rows = await sql<{ id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string }>`
    WITH live AS (
      SELECT a.id FROM assignments a JOIN jobs j ON j.id = a.job_id AND j.status = ANY (${jobStatuses}::text[])
      WHERE a.job_id = ${jobId}::uuid AND a.status = 'leased'
      ORDER BY a.id
      LIMIT ${limit}
      FOR UPDATE OF a
    )
    UPDATE assignments a SET status = 'released', release_reason = ${reason}, ended_at = least(${now}::timestamptz, a.lease_expires_at)
    FROM live WHERE a.id = live.id AND a.status = 'leased'
    RETURNING a.id, a.task_id, a.job_id, a.worker_id, a.vendor_id
  `.execute(trx);
  for (const r of rows.rows) {
    await publish(trx, 'assignment.released', { assignment_id: r.id, task_id: r.task_id, job_id: r.job_id, worker_id: r.worker_id, vendor_id: r.vendor_id, reason });
  }
  return rows.rows.length;
}

const CANCEL_BATCH = 500;

/**
 * The `job.cancelled` consumer: ends the cancelled job's live leases (reason `job_cancelled`), in
 * batches of one transaction each. Nothing happens unless the job is cancelled, so a redelivered or
 * stray event is a no-op. Returns how many ended.
 */
export async function endLeasesOfCancelledJob(deps: Pick<LeaseDeps, 'db' | 'clock'>, jobId: string): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock.now();
    const ended = await deps.db.transaction().execute((trx) => endLiveLeases(trx, jobId, JOB_CANCELLED_REASON, now, CANCEL_BATCH, ['cancelled']));
    total += ended;
    if (ended < CANCEL_BATCH) return total;
  }
}

/**
 * Expires every lease past its expiry, in batches, each batch one transaction that marks the rows
 * expired and writes their `assignment.expired` events. SKIP LOCKED plus the status condition make
 * concurrent runs (several replicas, an overlapping tick) expire each lease exactly once.
 */
export async function expireStaleLeases(deps: LeaseDeps): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock.now();
    const expired = await deps.db.transaction().execute(async (trx) => {
      const rows = await sql<{ id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string }>`
        WITH stale AS (
          SELECT id FROM assignments
          WHERE status = 'leased' AND lease_expires_at <= ${now}::timestamptz
          ORDER BY lease_expires_at
          LIMIT ${EXPIRY_BATCH}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE assignments a SET status = 'expired', ended_at = a.lease_expires_at
        FROM stale WHERE a.id = stale.id AND a.status = 'leased'
        RETURNING a.id, a.task_id, a.job_id, a.worker_id, a.vendor_id
      `.execute(trx);
      for (const r of rows.rows) {
        await publish(trx, 'assignment.expired', { assignment_id: r.id, task_id: r.task_id, job_id: r.job_id, worker_id: r.worker_id, vendor_id: r.vendor_id });
      }
      return rows.rows;
    });
    total += expired.length;
    deps.metrics?.leaseExpiries.inc(expired.length);
    for (const jobId of new Set(expired.map((r) => r.job_id))) await announceSlots(deps.redis, deps.prefix, jobId, deps.logger);
    if (expired.length < EXPIRY_BATCH) return total;
  }
}
