import { LRUCache } from 'lru-cache';
import { sql, type Db } from '@fairlabel/db';
import type { Logger } from '@fairlabel/observability';
import type { Clock } from '@fairlabel/runtime';

/**
 * A per-process hint of which active jobs to look at first, in claim order (job priority, best open
 * task priority, deadline, age). Probing every active job's open-slot index costs ~7 ms at 1,000
 * jobs; with this list a claim probes the first few jobs only. It is a hint, never the truth: the
 * claim re-checks every rule in SQL, and when the hinted jobs yield nothing it runs the full search,
 * so a job activated since the last refresh is found anyway.
 */
const REFRESH_MS = 1000;
const KEY = 'order';

export interface JobOrderDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

/**
 * One cache per database handle, holding the one list: fresh for REFRESH_MS, then served stale while
 * one background reload runs (lru-cache's stale-while-revalidate: concurrent claims share the reload).
 * The reload never rejects: a failure (a Postgres outage) is logged and keeps the stale order, or
 * leaves none, so claims go on from the stale order or the full search and no promise is left with an
 * unhandled rejection (which would end the process).
 */
const orders = new WeakMap<Db, LRUCache<string, string[]>>();

function cacheFor(deps: JobOrderDeps): LRUCache<string, string[]> {
  let cache = orders.get(deps.db);
  if (!cache) {
    cache = new LRUCache<string, string[]>({
      max: 1,
      ttl: REFRESH_MS,
      perf: { now: () => deps.clock.now().getTime() },
      ttlResolution: 0,
      allowStale: true,
      fetchMethod: async (_key, stale) => {
        try {
          return await load(deps.db);
        } catch (err) {
          deps.logger.warn({ err }, 'could not reload the hinted job order; claims use the last one or search every job');
          return stale;
        }
      },
    });
    orders.set(deps.db, cache);
  }
  return cache;
}

async function load(db: Db): Promise<string[]> {
  // The order and the open-slot probe are the claim's own (packages/db/sql/wa_job_order.sql).
  const rows = await sql<{ job_id: string }>`SELECT job_id FROM wa_job_order()`.execute(db);
  return rows.rows.map((r) => r.job_id);
}

/** Active job ids with open slots, best first, at most about a second old; empty when none could be read. */
export async function hintedJobOrder(deps: JobOrderDeps): Promise<string[]> {
  try {
    return (await cacheFor(deps).fetch(KEY)) ?? [];
  } catch (err) {
    // fetchMethod does not throw; this only guards the claim against a change in lru-cache's contract.
    deps.logger.warn({ err }, 'hinted job order unavailable');
    return [];
  }
}
