import { sql, type Db, type Database, type WorkerAccommodations } from '@fairlabel/db';
import { ApiError, notFound } from '@fairlabel/http';
import type { Transaction } from 'kysely';
import type { Redis } from 'ioredis';
import type { Clock } from '@fairlabel/runtime';
import type { Logger } from '@fairlabel/observability';
import { hintedJobOrder } from './job-order.js';
import { fairShareAllows, markStarved, starvedVendors } from './fair-share.js';
import { payQuote } from './pay.js';
import { announceSlots, type SlotWakeups } from './wakeups.js';

export interface ClaimDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  clock: Clock;
  logger: Logger;
}

/** The worker facts eligibility needs, read once per claim. */
export interface ClaimingWorker {
  id: string;
  vendor_id: string;
  status: 'active' | 'suspended';
  region_country: string;
  region_province: string | null;
  timezone: string;
  accommodations: WorkerAccommodations;
  daily_active_limit_seconds: number | null;
}

/** How many best-first candidate jobs one query returns; more are fetched only if all of these fail. */
const CANDIDATE_JOBS = 8;
/** How far down the hinted job order a claim probes before searching every active job. */
const HINTED_JOBS = 32;
/** Retry-After for a 204: soon, because slots free up all the time. */
export const NO_WORK_RETRY_AFTER_SECONDS = 5;
/** A long poll re-checks at least this often, so a lost wake-up costs latency, not the claim. */
const POLL_INTERVAL_MS = 2000;

export async function loadClaimingWorker(db: Db, workerId: string, vendorId: string): Promise<ClaimingWorker> {
  const worker = await db
    .selectFrom('workers')
    .select(['id', 'vendor_id', 'status', 'region_country', 'region_province', 'timezone', 'accommodations', 'daily_active_limit_seconds'])
    .where('id', '=', workerId)
    .where('vendor_id', '=', vendorId)
    .executeTakeFirst();
  if (!worker) throw notFound('worker');
  return worker;
}

export function leaseFactor(accommodations: WorkerAccommodations): number {
  const f = accommodations.lease_factor;
  return typeof f === 'number' && Number.isFinite(f) && f >= 1 ? f : 1;
}

/**
 * Refuses a claim from a worker at their daily active-time cap: 409 `daily_limit_reached` until the
 * next midnight in the worker's time zone. Active time is measured by the server (lease start to
 * submit/release/expiry, or to now for live leases), not taken from what the worker reports.
 */
export async function assertUnderDailyLimit(db: Db, worker: ClaimingWorker, now: Date): Promise<void> {
  if (worker.daily_active_limit_seconds === null) return;
  const row = await sql<{ active_seconds: number; resets_at: Date }>`
    WITH day AS (
      SELECT (date_trunc('day', ${now}::timestamptz AT TIME ZONE ${worker.timezone}) AT TIME ZONE ${worker.timezone}) AS starts_at,
             ((date_trunc('day', ${now}::timestamptz AT TIME ZONE ${worker.timezone}) + interval '1 day') AT TIME ZONE ${worker.timezone}) AS resets_at
    )
    SELECT coalesce(sum(extract(epoch FROM coalesce(a.ended_at, least(${now}::timestamptz, a.lease_expires_at)) - a.leased_at)), 0)::float8 AS active_seconds,
           day.resets_at
    FROM day LEFT JOIN assignments a ON a.worker_id = ${worker.id} AND a.leased_at >= day.starts_at
    GROUP BY day.resets_at
  `.execute(db);
  const { active_seconds, resets_at } = row.rows[0]!;
  if (active_seconds >= worker.daily_active_limit_seconds) {
    const retryAfter = Math.max(1, Math.ceil((resets_at.getTime() - now.getTime()) / 1000));
    throw new ApiError(
      409,
      'daily_limit_reached',
      `daily active-time limit of ${worker.daily_active_limit_seconds} s reached; work resumes at ${resets_at.toISOString()} (midnight, ${worker.timezone})`,
      [{ path: 'worker.daily_active_limit_seconds', message: 'limit reached', resets_at: resets_at.toISOString() }],
      { 'retry-after': String(retryAfter) },
    );
  }
}

interface CandidateJob {
  job_id: string;
  share_cap: number | null;
}

/**
 * The best open task of each job this worker may work, best job first. Job-level rules (active,
 * vendor allowed, region allowed, skill level, skill not suspended) filter ~1,000 active jobs in
 * memory; per surviving job one probe of the partial index `task_slots_open` finds the first task
 * with an open slot that this worker has not done. No locks are taken here.
 */
async function candidateJobs(trx: Transaction<Database>, worker: ClaimingWorker, excluded: string[], only: string[] | null): Promise<CandidateJob[]> {
  const province = worker.region_province ? `${worker.region_country}-${worker.region_province}` : worker.region_country;
  const rows = await sql<CandidateJob>`
    SELECT j.id AS job_id, (j.vendor_share_caps ->> ${worker.vendor_id}::text)::float8 AS share_cap
    FROM jobs j
    LEFT JOIN worker_skills ws ON ws.worker_id = ${worker.id} AND ws.skill = j.required_skill
    CROSS JOIN LATERAL (
      SELECT s.priority, s.task_id
      FROM task_slots s
      WHERE s.job_id = j.id AND s.open_slots > 0
        AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = s.task_id AND a.worker_id = ${worker.id})
      ORDER BY s.priority DESC, s.task_id
      LIMIT 1
    ) best
    WHERE j.status = 'active'
      AND (j.vendor_allowlist IS NULL OR ${worker.vendor_id}::uuid = ANY (j.vendor_allowlist))
      AND (j.allowed_regions IS NULL OR ${worker.region_country} = ANY (j.allowed_regions) OR ${province} = ANY (j.allowed_regions))
      AND (j.required_skill IS NULL OR (ws.level >= j.min_level AND ws.suspended_at IS NULL))
      AND j.id <> ALL (${excluded}::uuid[])
      ${only ? sql`AND j.id = ANY (${only}::uuid[])` : sql``}
    ORDER BY j.priority DESC, best.priority DESC, j.deadline ASC NULLS LAST, best.task_id
    LIMIT ${CANDIDATE_JOBS}
  `.execute(trx);
  return rows.rows;
}

/**
 * A hard vendor share cap: the vendor may hold at most `cap` of the job's total annotations. The
 * usage row is created on first need (counted once from assignments) and locked, so concurrent claims
 * of the same vendor on the same job check and take in turn; triggers keep it current afterwards.
 */
async function underShareCap(trx: Transaction<Database>, jobId: string, vendorId: string, cap: number): Promise<boolean> {
  const lockUsage = () =>
    sql<{ held: number; total: number }>`
      SELECT u.held, coalesce(t.total_slots, 0) AS total
      FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
      WHERE u.job_id = ${jobId}::uuid AND u.vendor_id = ${vendorId}::uuid
      FOR UPDATE OF u
    `.execute(trx);
  let usage = (await lockUsage()).rows[0];
  if (!usage) {
    await sql`
      INSERT INTO job_vendor_usage (job_id, vendor_id, held)
      SELECT ${jobId}::uuid, ${vendorId}::uuid, count(*) FROM assignments
      WHERE job_id = ${jobId}::uuid AND vendor_id = ${vendorId}::uuid AND status IN ('leased', 'submitted', 'accepted')
      ON CONFLICT DO NOTHING
    `.execute(trx);
    usage = (await lockUsage()).rows[0]!;
  }
  return usage.held + 1 <= Math.floor(cap * usage.total + 1e-9);
}

/** Locks the first claimable open slot of one job, skipping rows other claims hold. */
async function lockOpenSlot(trx: Transaction<Database>, jobId: string, workerId: string): Promise<number | null> {
  const row = await sql<{ task_id: number }>`
    SELECT s.task_id
    FROM task_slots s
    WHERE s.job_id = ${jobId}::uuid AND s.open_slots > 0
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = s.task_id AND a.worker_id = ${workerId}::uuid)
    ORDER BY s.priority DESC, s.task_id
    LIMIT 1
    FOR UPDATE OF s SKIP LOCKED
  `.execute(trx);
  return row.rows[0]?.task_id ?? null;
}

export interface ClaimedAssignment {
  id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  status: 'leased';
  task_type: string;
  payload: unknown;
  instructions: string;
  label_config: unknown;
  prediction: { value: unknown; confidence: number | null; model: string | null } | null;
  leased_at: Date;
  lease_expires_at: Date;
  pay: Awaited<ReturnType<typeof payQuote>>;
}

/**
 * One claim attempt: in one transaction, pick the best eligible task, lock its slot row with
 * FOR UPDATE SKIP LOCKED (so any number of gateway processes claim different slots without waiting
 * on each other), and insert the assignment; the insert trigger takes the slot. The unique
 * (task_id, worker_id) constraint backs up "never the same item twice".
 */
export async function claimOnce(deps: ClaimDeps, worker: ClaimingWorker): Promise<ClaimedAssignment | null> {
  const now = deps.clock.now();
  const starved = await starvedVendors(deps.redis, deps.prefix, now);
  const competitors = starved.filter((v) => v !== worker.vendor_id);
  const hinted = await hintedJobOrder(deps.db);
  let heldBackForOthers: string | null = null;

  const claimed = await deps.db.transaction().execute(async (trx) => {
    const excluded: string[] = [];
    // First the jobs the hint ranks best, a few at a time; then, if they yield nothing, every job.
    const chunks = [];
    for (let i = 0; i < HINTED_JOBS && i < hinted.length; i += CANDIDATE_JOBS) chunks.push(hinted.slice(i, i + CANDIDATE_JOBS));
    for (let round = 0; ; round++) {
      const only = round < chunks.length ? chunks[round]! : null;
      const candidates = await candidateJobs(trx, worker, excluded, only);
      if (candidates.length === 0) {
        if (only) continue;
        return null;
      }
      for (const candidate of candidates) {
        excluded.push(candidate.job_id);
        if (competitors.length > 0 && !(await fairShareAllows(trx, candidate.job_id, worker.vendor_id, competitors, now))) {
          heldBackForOthers = candidate.job_id;
          continue;
        }
        if (candidate.share_cap !== null && !(await underShareCap(trx, candidate.job_id, worker.vendor_id, candidate.share_cap))) continue;
        const taskId = await lockOpenSlot(trx, candidate.job_id, worker.id);
        if (taskId === null) continue;
        const inserted = await sql<{ id: number; leased_at: Date; lease_expires_at: Date }>`
          INSERT INTO assignments (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at)
          SELECT ${taskId}::bigint, j.id, ${worker.id}::uuid, ${worker.vendor_id}::uuid, 'leased', ${now}::timestamptz,
                 ${now}::timestamptz + make_interval(secs => ceil(j.lease_seconds * ${leaseFactor(worker.accommodations)}::float8))
          FROM jobs j WHERE j.id = ${candidate.job_id}::uuid
          ON CONFLICT (task_id, worker_id) DO NOTHING
          RETURNING id, leased_at, lease_expires_at
        `.execute(trx);
        const assignment = inserted.rows[0];
        if (!assignment) continue;
        return { ...assignment, task_id: taskId, job_id: candidate.job_id };
      }
    }
  });

  if (heldBackForOthers && !claimed) await announceSlots(deps.redis, deps.prefix, heldBackForOthers, deps.logger);
  if (!claimed) return null;
  return describeAssignment(deps, { ...claimed, worker_id: worker.id });
}

async function describeAssignment(
  deps: ClaimDeps,
  a: { id: number; task_id: number; job_id: string; worker_id: string; leased_at: Date; lease_expires_at: Date },
): Promise<ClaimedAssignment> {
  const row = await deps.db
    .selectFrom('tasks as t')
    .innerJoin('jobs as j', 'j.id', 't.job_id')
    .select(['t.payload', 't.prediction', 't.prediction_confidence', 't.prediction_model', 'j.task_type', 'j.instructions', 'j.label_config', 'j.pay_per_annotation', 'j.currency'])
    .where('t.id', '=', a.task_id)
    .executeTakeFirstOrThrow();
  return {
    ...a,
    status: 'leased',
    task_type: row.task_type,
    payload: row.payload,
    instructions: row.instructions,
    label_config: row.label_config,
    prediction: row.prediction === null ? null : { value: row.prediction, confidence: row.prediction_confidence, model: row.prediction_model },
    pay: await payQuote(deps.db, a.job_id, row.pay_per_annotation, row.currency, deps.clock.now()),
  };
}

/**
 * The worker-facing claim: refuses suspended workers and workers at their daily limit, then tries
 * to claim, and with `waitSeconds` > 0 waits for announced slots (re-polling every few seconds in
 * case an announcement was missed) until the deadline.
 */
export async function claimNext(
  deps: ClaimDeps,
  wakeups: SlotWakeups,
  workerId: string,
  vendorId: string,
  waitSeconds: number,
  signal?: AbortSignal,
): Promise<ClaimedAssignment | null> {
  const worker = await loadClaimingWorker(deps.db, workerId, vendorId);
  if (worker.status !== 'active') throw new ApiError(403, 'worker_suspended', 'this worker is suspended by their vendor and cannot claim work');
  await assertUnderDailyLimit(deps.db, worker, deps.clock.now());
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const claimed = await claimOnce(deps, worker);
    if (claimed) return claimed;
    await markStarved(deps.redis, deps.prefix, worker.vendor_id, deps.clock.now());
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) return null;
    await wakeups.wait(Math.min(remaining, POLL_INTERVAL_MS), signal);
  }
}

export interface VendorClaimResult {
  worker_id: string;
  assignments: ClaimedAssignment[];
  error: { code: string; message: string } | null;
}

/**
 * A vendor's batch claim for named workers of its own: every claim passes the same checks as a
 * worker's own (status, daily limit, eligibility, fair share). Workers of another vendor make the
 * whole request a 404, as if they did not exist.
 */
export async function claimForVendor(deps: ClaimDeps, vendorId: string, claims: { worker_id: string; count: number }[]): Promise<VendorClaimResult[]> {
  const ids = [...new Set(claims.map((c) => c.worker_id))];
  const workers = await deps.db
    .selectFrom('workers')
    .select(['id', 'vendor_id', 'status', 'region_country', 'region_province', 'timezone', 'accommodations', 'daily_active_limit_seconds'])
    .where('vendor_id', '=', vendorId)
    .where('id', 'in', ids)
    .execute();
  const byId = new Map(workers.map((w) => [w.id, w]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length) {
    throw new ApiError(404, 'not_found', 'worker not found', unknown.map((id) => ({ path: 'body.claims', message: `no worker ${id} in your organization` })));
  }
  const results: VendorClaimResult[] = [];
  for (const { worker_id, count } of claims) {
    const worker = byId.get(worker_id)!;
    const result: VendorClaimResult = { worker_id, assignments: [], error: null };
    results.push(result);
    try {
      if (worker.status !== 'active') throw new ApiError(403, 'worker_suspended', 'this worker is suspended');
      for (let i = 0; i < count; i++) {
        await assertUnderDailyLimit(deps.db, worker, deps.clock.now());
        const claimed = await claimOnce(deps, worker);
        if (!claimed) {
          result.error = { code: 'no_eligible_task', message: `no eligible task for this worker after ${i} assignment(s)` };
          break;
        }
        result.assignments.push(claimed);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      result.error = { code: err.code, message: err.message };
    }
  }
  return results;
}
