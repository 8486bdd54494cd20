import { sql, type Db } from '@fairlabel/db';

/** The median is taken over this many of the job's latest submissions: recent, and cheap at any job size. */
const MEDIAN_SAMPLE = 200;
const CACHE_MS = 10_000;
const medians = new Map<string, { at: number; ms: number | null }>();

async function medianTimeMs(db: Db, jobId: string, now: Date): Promise<number | null> {
  const cached = medians.get(jobId);
  if (cached && now.getTime() - cached.at < CACHE_MS && now.getTime() >= cached.at) return cached.ms;
  const row = await sql<{ median: number | null }>`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY time_spent_ms)::float8 AS median
    FROM (SELECT time_spent_ms FROM assignments
          WHERE job_id = ${jobId}::uuid AND submitted_at IS NOT NULL AND time_spent_ms IS NOT NULL
          ORDER BY submitted_at DESC LIMIT ${MEDIAN_SAMPLE}) recent
  `.execute(db);
  const ms = row.rows[0]?.median ?? null;
  if (medians.size > 10_000) medians.clear();
  medians.set(jobId, { at: now.getTime(), ms });
  return ms;
}

/** What one annotation pays, and the hourly rate that is at the job's median time per task so far. */
export async function payQuote(db: Db, jobId: string, amount: number, currency: string, now: Date) {
  const ms = await medianTimeMs(db, jobId, now);
  const usable = ms !== null && ms > 0;
  return {
    amount,
    currency,
    median_seconds_per_task: usable ? Math.round(ms) / 1000 : null,
    hourly_rate: usable ? Math.round((amount * 3_600_000) / ms) : null,
  };
}
