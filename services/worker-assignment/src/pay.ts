import { sql, type Db } from '@fairlabel/db';
import type { Clock } from '@fairlabel/runtime';
import { RefreshingCache } from './process-cache.js';

/** The median is taken over this many of the job's latest submissions: recent, and cheap at any job size. */
const MEDIAN_SAMPLE = 200;
const CACHE_MS = 10_000;
/**
 * Per job: its median time per task (null: no submission yet), recomputed at most every CACHE_MS —
 * in the background while claims go on with the previous figure, so an expiry costs no claim a wait.
 */
const medians = new RefreshingCache<Db, { ms: number | null }>({
  max: 10_000,
  ttlMs: CACHE_MS,
  load: async (db, jobId) => {
    const row = await sql<{ median: number | null }>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY time_spent_ms)::float8 AS median
      FROM (SELECT time_spent_ms FROM assignments
            WHERE job_id = ${jobId}::uuid AND submitted_at IS NOT NULL AND time_spent_ms IS NOT NULL
            ORDER BY submitted_at DESC LIMIT ${MEDIAN_SAMPLE}) recent
    `.execute(db);
    return { ms: row.rows[0]?.median ?? null };
  },
});

async function medianTimeMs(deps: { db: Db; clock: Clock }, jobId: string): Promise<number | null> {
  return (await medians.get(deps.db, deps.clock, jobId)).ms;
}

/** What one annotation pays, and the hourly rate that is at the job's median time per task so far. */
export async function payQuote(deps: { db: Db; clock: Clock }, jobId: string, amount: number, currency: string) {
  const ms = await medianTimeMs(deps, jobId);
  const usable = ms !== null && ms > 0;
  return {
    amount,
    currency,
    median_seconds_per_task: usable ? Math.round(ms) / 1000 : null,
    hourly_rate: usable ? Math.round((amount * 3_600_000) / ms) : null,
  };
}
