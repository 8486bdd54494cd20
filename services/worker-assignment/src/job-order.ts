import { sql, type Db } from '@fairlabel/db';

/**
 * A per-process hint of which active jobs to look at first, in claim order (job priority, best open
 * task priority, deadline, age). Probing every active job's open-slot index costs ~7 ms at 1,000
 * jobs; with this list a claim probes the first few jobs only. It is a hint, never the truth: the
 * claim re-checks every rule in SQL, and when the hinted jobs yield nothing it runs the full search,
 * so a job activated since the last refresh is found anyway.
 */
const REFRESH_MS = 1000;

interface Cached {
  at: number;
  ids: string[];
  refreshing: Promise<string[]> | null;
}
const caches = new WeakMap<Db, Cached>();

async function load(db: Db): Promise<string[]> {
  // The order and the open-slot probe are the claim's own (packages/db/sql/wa_job_order.sql).
  const rows = await sql<{ job_id: string }>`SELECT job_id FROM wa_job_order()`.execute(db);
  return rows.rows.map((r) => r.job_id);
}

/** Active job ids with open slots, best first, at most a second old (refreshed by one caller at a time). */
export async function hintedJobOrder(db: Db): Promise<string[]> {
  const now = Date.now();
  let cached = caches.get(db);
  if (!cached) {
    cached = { at: 0, ids: [], refreshing: null };
    caches.set(db, cached);
  }
  if (now - cached.at >= REFRESH_MS && !cached.refreshing) {
    const entry = cached;
    entry.refreshing = load(db)
      .then((ids) => {
        entry.ids = ids;
        entry.at = Date.now();
        return ids;
      })
      .finally(() => {
        entry.refreshing = null;
      });
    if (entry.at === 0) return entry.refreshing;
  }
  return cached.ids;
}
