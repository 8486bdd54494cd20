import { sql, sqlConstants, type Database } from '@fairlabel/db';
import { ApiError, notFound } from '@fairlabel/http';
import type { Transaction } from 'kysely';
import { hintedJobOrder } from './job-order.js';
import { fairShareAllows, markStarved, starvedVendors } from './fair-share.js';
import { payQuote } from './pay.js';
import { rememberClaim } from './submit.service.js';
import type { LeaseDeps } from './leases.service.js';
import { batcherPer, eachOrAlone, MicroBatcher, type Outcome } from './micro-batcher.js';
import { runPrepared } from './prepared.js';
import { announceSlots, type SlotWakeups } from './wakeups.js';

/** The claim needs exactly what the lease operations need. */
export type ClaimDeps = LeaseDeps;

// The claim's rules are written down once, in packages/db/sql/wa_claim.sql, beside the SQL that applies them.
const { WA_CLAIM_BATCH, WA_HINTED_JOBS } = sqlConstants;
/** Retry-After for a 204: soon, because slots free up all the time. */
export const NO_WORK_RETRY_AFTER_SECONDS = 5;
/** A long poll re-checks at least this often, so a lost wake-up costs latency, not the claim. */
const POLL_INTERVAL_MS = 2000;

/** One row of `wa_claim` (packages/db/sql/wa_claim.sql): the outcome and, when claimed, what the worker is shown. */
export interface ClaimRow {
  outcome: 'claimed' | 'none' | 'not_found' | 'suspended' | 'daily_limit_reached';
  id: number;
  task_id: number;
  job_id: string;
  leased_at: Date;
  lease_expires_at: Date;
  task_type: string;
  payload: unknown;
  instructions: string;
  label_config: unknown;
  prediction: unknown;
  prediction_confidence: number | null;
  prediction_model: string | null;
  pay_per_annotation: number;
  currency: string;
  daily_active_limit_seconds: number;
  timezone: string;
  resets_at: Date;
}

/** wa_claim's parameters. */
export interface ClaimRequest {
  workerId: string;
  vendorId: string;
  now: Date;
  checkWorker: boolean;
  jobs: string[];
  fullSearch: boolean;
}

const claimQuery = (q: ClaimRequest) => sql<ClaimRow>`
  SELECT * FROM wa_claim(${q.workerId}::uuid, ${q.vendorId}::uuid, ${q.now}::timestamptz, ${q.checkWorker}, ${q.jobs}::uuid[], ${q.fullSearch})
`;

/**
 * Claims that arrive together in this process go to Postgres as one call of `wa_claim_batch` (one
 * transaction, one commit), which runs wa_claim for each in arrival order, so each worker gets what
 * the same claims one after another would give (wa_claim_batch.sql says why). A claim arriving alone
 * is one call of wa_claim, as before. If Postgres refuses the batch, each claim runs alone.
 */
export const CLAIM_BATCHING = { maxBatch: 64, maxInFlight: 2, windowMs: 0 };

/** Claims run together (as the batcher hands them over): one outcome per claim, in order. */
export function runClaimBatch({ pool, db }: Pick<ClaimDeps, 'pool' | 'db'>, requests: ClaimRequest[]): Promise<Outcome<ClaimRow>[]> {
  return eachOrAlone(
    requests,
    async (all) => {
      const json = JSON.stringify(
        all.map((q) => ({ worker_id: q.workerId, vendor_id: q.vendorId, now: q.now.toISOString(), check_worker: q.checkWorker, jobs: q.jobs, full_search: q.fullSearch })),
      );
      const rows = await runPrepared(pool, db, sql<ClaimRow>`SELECT b.* FROM wa_claim_batch(${json}::jsonb) WITH ORDINALITY b ORDER BY b.ordinality`);
      if (rows.length !== all.length) throw new Error(`wa_claim_batch returned ${rows.length} rows for ${all.length} claims`);
      return rows;
    },
    async (q) => (await runPrepared(pool, db, claimQuery(q)))[0]!,
  );
}

const claimBatcher = batcherPer(
  (deps: ClaimDeps) => deps.pool,
  (deps: ClaimDeps) => new MicroBatcher<ClaimRequest, ClaimRow>((requests) => runClaimBatch(deps, requests), CLAIM_BATCHING),
);

/**
 * One claim attempt in one statement (`wa_claim`), so one round trip and plans cached per connection:
 * with `checkWorker` the worker checks, then the hinted `jobs` first and, with `fullSearch`, every
 * active job; the rules are listed in wa_claim.sql. Outside a transaction it goes through this
 * process's claim batcher.
 */
async function runClaim(
  on: Transaction<Database> | ClaimDeps,
  workerId: string,
  vendorId: string,
  now: Date,
  checkWorker: boolean,
  jobs: string[],
  fullSearch: boolean,
): Promise<ClaimRow> {
  const request = { workerId, vendorId, now, checkWorker, jobs, fullSearch };
  // Inside the fair-share transaction it must run on that transaction's connection.
  if ('isTransaction' in on) return (await claimQuery(request).execute(on)).rows[0]!;
  return claimBatcher(on).add(request);
}

/**
 * The claim while another vendor is starved (fair share, whose state is in Redis): the eligible jobs
 * come best first from `wa_claim_candidates`, fair share drops those where this vendor has had its
 * share of the recent slots, and `wa_claim` tries the rest in order. One transaction, as the claim.
 */
async function claimSharingFairly(
  deps: ClaimDeps,
  workerId: string,
  vendorId: string,
  now: Date,
  competitors: string[],
  hinted: string[],
): Promise<{ row: ClaimRow | null; heldBackForOthers: string | null }> {
  let heldBackForOthers: string | null = null;
  const row = await deps.db.transaction().execute(async (trx) => {
    const excluded: string[] = [];
    // First the jobs the hint ranks best, a few at a time; then, if they yield nothing, every job.
    const chunks = [];
    for (let i = 0; i < hinted.length; i += WA_CLAIM_BATCH) chunks.push(hinted.slice(i, i + WA_CLAIM_BATCH));
    for (let round = 0; ; round++) {
      const only = round < chunks.length ? chunks[round]! : null;
      const candidates = await sql<{ job_id: string }>`
        SELECT job_id FROM wa_claim_candidates(${workerId}::uuid, ${vendorId}::uuid, ${excluded}::uuid[], ${only}::uuid[])
      `.execute(trx);
      if (candidates.rows.length === 0) {
        if (only) continue;
        return null;
      }
      const allowed: string[] = [];
      for (const { job_id } of candidates.rows) {
        excluded.push(job_id);
        if (await fairShareAllows(trx, job_id, vendorId, competitors, now)) allowed.push(job_id);
        else heldBackForOthers = job_id;
      }
      if (allowed.length === 0) continue;
      const claimed = await runClaim(trx, workerId, vendorId, now, false, allowed, false);
      if (claimed.outcome === 'claimed') return claimed;
    }
  });
  return { row, heldBackForOthers };
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

/** One claim attempt (attemptClaim), timed for `fairlabel_claim_duration_seconds` by how it ended. */
async function claimOnce(deps: ClaimDeps, via: 'worker' | 'vendor', workerId: string, vendorId: string, checkWorker: boolean): Promise<ClaimedAssignment | null> {
  const timer = deps.metrics?.claimDuration.startTimer({ via });
  try {
    const claimed = await attemptClaim(deps, workerId, vendorId, checkWorker);
    timer?.({ outcome: claimed ? 'claimed' : 'none' });
    return claimed;
  } catch (err) {
    timer?.({ outcome: err instanceof ApiError && err.statusCode < 500 ? 'refused' : 'error' });
    throw err;
  }
}

/**
 * One claim attempt. With `checkWorker`, a suspended worker is a 403 and one at their daily
 * active-time cap a 409 `daily_limit_reached` until the next midnight in their time zone (active time
 * is measured by the server from the leases, not taken from what the worker reports).
 */
async function attemptClaim(deps: ClaimDeps, workerId: string, vendorId: string, checkWorker: boolean): Promise<ClaimedAssignment | null> {
  const now = deps.clock.now();
  const starved = await starvedVendors(deps, now);
  const competitors = starved.filter((v) => v !== vendorId);
  const hinted = (await hintedJobOrder(deps)).slice(0, WA_HINTED_JOBS);
  let row: ClaimRow | null;
  if (competitors.length === 0) {
    row = await runClaim(deps, workerId, vendorId, now, checkWorker, hinted, true);
  } else {
    if (checkWorker) {
      // Only the checks: no job is offered and there is no full search.
      const checked = await runClaim(deps, workerId, vendorId, now, true, [], false);
      if (checked.outcome !== 'none') refuse(checked, now);
    }
    const fair = await claimSharingFairly(deps, workerId, vendorId, now, competitors, hinted);
    row = fair.row;
    if (!row && fair.heldBackForOthers) await announceSlots(deps.redis, deps.prefix, fair.heldBackForOthers, deps.logger);
  }
  if (!row || row.outcome === 'none') return null;
  if (row.outcome !== 'claimed') refuse(row, now);
  rememberClaim(deps, row, workerId, vendorId);
  return {
    id: row.id,
    task_id: row.task_id,
    job_id: row.job_id,
    worker_id: workerId,
    status: 'leased',
    task_type: row.task_type,
    payload: row.payload,
    instructions: row.instructions,
    label_config: row.label_config,
    prediction: row.prediction === null ? null : { value: row.prediction, confidence: row.prediction_confidence, model: row.prediction_model },
    leased_at: row.leased_at,
    lease_expires_at: row.lease_expires_at,
    pay: await payQuote(deps, row.job_id, row.pay_per_annotation, row.currency),
  };
}

/** The error for a claim the worker checks refused. */
function refuse(row: ClaimRow, now: Date): never {
  if (row.outcome === 'not_found') throw notFound('worker');
  if (row.outcome === 'suspended') throw new ApiError(403, 'worker_suspended', 'this worker is suspended by their vendor and cannot claim work');
  if (row.outcome === 'daily_limit_reached') {
    const { daily_active_limit_seconds: limit, timezone, resets_at } = row;
    const retryAfter = Math.max(1, Math.ceil((resets_at.getTime() - now.getTime()) / 1000));
    throw new ApiError(
      409,
      'daily_limit_reached',
      `daily active-time limit of ${limit} s reached; work resumes at ${resets_at.toISOString()} (midnight, ${timezone})`,
      [{ path: 'worker.daily_active_limit_seconds', message: 'limit reached', resets_at: resets_at.toISOString() }],
      { 'retry-after': String(retryAfter) },
    );
  }
  throw new Error(`unexpected claim outcome ${row.outcome}`);
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
  const deadline = Date.now() + waitSeconds * 1000;
  // The worker checks run before the wait starts, not on every retry.
  for (let attempt = 0; ; attempt++) {
    const claimed = await claimOnce(deps, 'worker', workerId, vendorId, attempt === 0);
    if (claimed) return claimed;
    await markStarved(deps.redis, deps.prefix, vendorId, deps.clock.now());
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
    .select(['id', 'status'])
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
        const claimed = await claimOnce(deps, 'vendor', worker_id, vendorId, true);
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
