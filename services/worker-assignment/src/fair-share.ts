import { sql, type Database } from '@fairlabel/db';
import type { Transaction } from 'kysely';
import type { Redis } from 'ioredis';
import type { Clock } from '@fairlabel/runtime';
import { ProcessCache } from './process-cache.js';

/**
 * Fair share across vendors. A hard share cap (jobs.vendor_share_caps) bounds what a vendor may hold
 * of a job in total; this softer rule decides who gets the next slots when vendors compete for the
 * same job right now, so one fast vendor cannot take every slot the moment it frees.
 *
 * A vendor is "starved" while its workers are asking for work and getting none (noted in Redis for
 * a few seconds). When another starved vendor has worked a job recently, a vendor may claim there
 * only while its share of the job's recent assignments is within its weighted share among the
 * competitors (weight = its share cap, 1 when uncapped). Nobody is held back when no competitor is
 * waiting, so the rule never leaves a slot idle that someone wants.
 */

const STARVED_FOR_MS = 10_000;
/** "Recently": the job's last assignments, within a time bound so an old burst does not count. */
export const RECENT_WINDOW_ASSIGNMENTS = 100;
const RECENT_WINDOW_MS = 10 * 60_000;
/** Headroom over the exact proportion, so rounding on small windows does not stall a vendor. */
const SLACK_ASSIGNMENTS = 2;

const starvedKey = (prefix: string) => `${prefix}:worker-assignment:starved-vendors`;

export async function markStarved(redis: Redis, prefix: string, vendorId: string, now: Date): Promise<void> {
  await redis.zadd(starvedKey(prefix), now.getTime(), vendorId);
  starvedCache.existing(redis)?.delete(prefix);
}

/** Read on every claim; a second of staleness is harmless and saves a Redis round trip per claim. Per Redis handle, keyed by prefix. */
const starvedCache = new ProcessCache<string[]>({ max: 64, ttlMs: 1000 });

export async function starvedVendors(deps: { redis: Redis; prefix: string; clock: Clock }, now: Date): Promise<string[]> {
  const cache = starvedCache.in(deps.redis, deps.clock);
  const cached = cache.get(deps.prefix);
  if (cached) return cached;
  const t = now.getTime();
  const key = starvedKey(deps.prefix);
  const [, vendors] = (await deps.redis
    .multi()
    .zremrangebyscore(key, '-inf', t - STARVED_FOR_MS)
    .zrangebyscore(key, t - STARVED_FOR_MS, '+inf')
    .exec()) as [[Error | null, number], [Error | null, string[]]];
  cache.set(deps.prefix, vendors[1]);
  return vendors[1];
}

export interface WindowShare {
  vendor_id: string;
  n: number;
}

/** Pure decision, unit-tested: may `vendorId` take one more slot given the recent window? */
export function withinFairShare(window: WindowShare[], vendorId: string, competitors: string[], caps: Record<string, number>): boolean {
  const present = new Set(window.map((w) => w.vendor_id));
  const rivals = competitors.filter((c) => c !== vendorId && present.has(c));
  if (rivals.length === 0) return true;
  const weight = (v: string) => (typeof caps[v] === 'number' && caps[v]! > 0 ? caps[v]! : 1);
  const total = window.reduce((n, w) => n + w.n, 0);
  const mine = window.find((w) => w.vendor_id === vendorId)?.n ?? 0;
  const target = weight(vendorId) / (weight(vendorId) + rivals.reduce((s, r) => s + weight(r), 0));
  return mine < target * total + SLACK_ASSIGNMENTS;
}

export async function fairShareAllows(trx: Transaction<Database>, jobId: string, vendorId: string, competitors: string[], now: Date): Promise<boolean> {
  const rows = await sql<WindowShare & { caps: Record<string, number> }>`
    SELECT r.vendor_id, count(*)::int AS n, j.vendor_share_caps AS caps
    FROM (
      SELECT vendor_id FROM assignments
      WHERE job_id = ${jobId}::uuid AND leased_at > ${new Date(now.getTime() - RECENT_WINDOW_MS)}::timestamptz
      ORDER BY id DESC LIMIT ${RECENT_WINDOW_ASSIGNMENTS}
    ) r CROSS JOIN jobs j WHERE j.id = ${jobId}::uuid
    GROUP BY r.vendor_id, j.vendor_share_caps
  `.execute(trx);
  if (rows.rows.length === 0) return true;
  return withinFairShare(rows.rows, vendorId, competitors, rows.rows[0]!.caps);
}
