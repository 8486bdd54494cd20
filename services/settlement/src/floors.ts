import { sql, type Db } from '@fairlabel/db';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '@fairlabel/db';
import { big, ceilDiv, convertUp } from './money.js';

type Reader = Db | Kysely<Database> | Transaction<Database>;

export const MS_PER_HOUR = 3_600_000n;

/**
 * One worker's work in a period, in one currency (the currency of the jobs and of the pay): hours by
 * client, earnings, and the region's hourly floor converted to the currency.
 *
 * Hours count all the time the worker spent (Fairwork: earnings after all working time), each piece
 * dated like the money it earns, so hours and earnings of a period match:
 * - decided assignments (accepted, rejected, gold, verify), on their first decision: the time spent
 *   the worker reported, capped by the lease's wall time from claim to submit (a reported time cannot
 *   exceed it);
 * - leases that expired or were released, on their end: from the claim to the last heartbeat (the
 *   evidence of work; a lease left untouched counts nothing, so claiming and walking away earns no
 *   floor top-up);
 * - reviews, on completion: the time the review reports.
 * Submitted work not yet decided counts when it is decided, with its pay.
 *
 * Earnings are what the worker is owed (after the vendor's commission) from ledger transactions
 * effective in the period: earnings, rejection pay, corrections, review pay, adjustments, reversals;
 * not floor top-ups or payouts.
 */
export interface WorkerPeriod {
  workerId: string;
  vendorId: string;
  country: string;
  province: string | null;
  cityTier: number;
  hoursMs: bigint;
  hoursMsByClient: Map<string, bigint>;
  earnings: bigint;
  topups: bigint;
  /** Minor units of the period's currency per hour; null when no floor applies or no rate converts it. */
  floorHourly: bigint | null;
}

export async function workersInPeriod(db: Reader, currency: string, from: Date, to: Date, opts: { earnings?: 'all' | 'floored' } = {}): Promise<WorkerPeriod[]> {
  // Decided work and reviews come from the hours settlement keeps as it records them (st_work_hours_in:
  // the kept hours the period covers whole, the source rows of its partial edge hours), not from a
  // pass over the period's decisions, assignments and reviews; leases that ended without a decision
  // are worker-assignment's rows, read here.
  const hours = await sql<{ worker_id: string; client_id: string; ms: string }>`
    WITH abandoned AS (
      SELECT a.worker_id, j.client_id,
        greatest(0, extract(epoch FROM least(coalesce(a.last_heartbeat_at, a.leased_at), a.ended_at) - a.leased_at) * 1000) AS ms
      FROM assignments a JOIN jobs j ON j.id = a.job_id
      WHERE a.status IN ('expired', 'released') AND a.ended_at >= ${from} AND a.ended_at < ${to} AND j.currency = ${currency}
    )
    SELECT worker_id, client_id, round(sum(ms))::text AS ms
    FROM (SELECT worker_id, client_id, ms FROM st_work_hours_in(${currency}, ${from}, ${to}) UNION ALL SELECT * FROM abandoned) x
    GROUP BY worker_id, client_id
  `.execute(db);

  const byWorker = new Map<string, { hoursMsByClient: Map<string, bigint>; earnings: bigint; topups: bigint }>();
  const entry = (id: string) => {
    let e = byWorker.get(id);
    if (!e) byWorker.set(id, (e = { hoursMsByClient: new Map(), earnings: 0n, topups: 0n }));
    return e;
  };
  for (const h of hours.rows) entry(h.worker_id).hoursMsByClient.set(h.client_id, big(h.ms));
  const floors = await floorTable(db, currency, to);
  // A pay run needs earnings only to compare them with a floor: when no worker of the period has one
  // (no floor for their region, or none converts into this currency), it skips the pass over the period's postings.
  const needMoney =
    opts.earnings !== 'floored' ||
    (byWorker.size > 0 &&
      (await db.selectFrom('workers').select(['region_country', 'region_province', 'city_tier']).where('id', 'in', [...byWorker.keys()]).execute()).some(
        (w) => floors({ country: w.region_country, province: w.region_province, cityTier: w.city_tier }) !== null,
      ));
  if (needMoney) {
    // Postings are summed per account before accounts are joined: a plan that does not depend on fresh
    // statistics (after a burst of postings, a join-first plan probed accounts once per transaction).
    const money = await sql<{ worker_id: string; earnings: string; topups: string }>`
      SELECT a.owner_id AS worker_id, (-s.earnings)::text AS earnings, (-s.topups)::text AS topups
      FROM (
        SELECT p.account_id,
          coalesce(sum(p.amount) FILTER (WHERE t.kind <> 'floor_topup'), 0) AS earnings,
          coalesce(sum(p.amount) FILTER (WHERE t.kind = 'floor_topup'), 0) AS topups
        FROM ledger_transactions t
        JOIN ledger_postings p ON p.transaction_id = t.id
        WHERE t.effective_at >= ${from} AND t.effective_at < ${to} AND t.currency = ${currency} AND t.kind <> 'payout'
        GROUP BY p.account_id
      ) s
      JOIN ledger_accounts a ON a.id = s.account_id
      WHERE a.purpose = 'worker_payable'
    `.execute(db);
    for (const m of money.rows) {
      const e = entry(m.worker_id);
      e.earnings = big(m.earnings);
      e.topups = big(m.topups);
    }
  }
  if (byWorker.size === 0) return [];

  const workers = await db
    .selectFrom('workers')
    .select(['id', 'vendor_id', 'region_country', 'region_province', 'city_tier'])
    .where('id', 'in', [...byWorker.keys()])
    .execute();
  return workers.map((w) => {
    const e = byWorker.get(w.id)!;
    let hoursMs = 0n;
    for (const ms of e.hoursMsByClient.values()) hoursMs += ms;
    return {
      workerId: w.id,
      vendorId: w.vendor_id,
      country: w.region_country,
      province: w.region_province,
      cityTier: w.city_tier,
      hoursMs,
      hoursMsByClient: e.hoursMsByClient,
      earnings: e.earnings,
      topups: e.topups,
      floorHourly: floors({ country: w.region_country, province: w.region_province, cityTier: w.city_tier }),
    };
  });
}

export interface Region {
  country: string;
  province: string | null;
  cityTier: number;
}

/**
 * The floors in force at `at`, as a lookup from a region to an hourly floor in `currency`: the most
 * specific row matches (country + province + tier, then country + province, then country + tier, then
 * country), the latest effective_from among equals; converted at the latest rate in force, rounded up.
 */
export async function floorTable(db: Reader, currency: string, at: Date): Promise<(r: Region) => bigint | null> {
  const rows = await db
    .selectFrom('pay_floors')
    .select(['country', 'province', 'city_tier', 'currency', 'hourly_minor', 'effective_from'])
    .where('effective_from', '<=', at)
    .orderBy('effective_from', 'desc')
    .execute();
  const rates = await sql<{ base: string; rate: string }>`
    SELECT DISTINCT ON (base) base, rate::text AS rate FROM fx_rates
    WHERE quote = ${currency} AND effective_from <= ${at} ORDER BY base, effective_from DESC
  `.execute(db);
  const rateOf = new Map(rates.rows.map((r) => [r.base, r.rate]));
  return (r: Region) => {
    const candidates = rows.filter((f) => f.country === r.country && (f.province === null || f.province === r.province) && (f.city_tier === null || f.city_tier === r.cityTier));
    if (candidates.length === 0) return null;
    // Specificity: province outranks tier; rows come newest first, so the first best is the newest.
    const score = (f: (typeof rows)[number]) => (f.province !== null ? 2 : 0) + (f.city_tier !== null ? 1 : 0);
    const best = candidates.reduce((a, b) => (score(b) > score(a) ? b : a));
    if (best.currency === currency) return big(best.hourly_minor);
    const rate = rateOf.get(best.currency);
    return rate ? convertUp(big(best.hourly_minor), best.currency, currency, rate) : null;
  };
}

/** What brings `earnings` up to `floorHourly` for `hoursMs` of work (0 when already there). */
export function shortfall(floorHourly: bigint, hoursMs: bigint, earnings: bigint): bigint {
  const owed = ceilDiv(floorHourly * hoursMs, MS_PER_HOUR);
  return owed > earnings ? owed - earnings : 0n;
}

/** Earnings per hour, rounded down; null without hours. */
export function effectiveHourly(earnings: bigint, hoursMs: bigint): bigint | null {
  if (hoursMs <= 0n) return null;
  const v = (earnings * MS_PER_HOUR) / hoursMs;
  return earnings < 0n && (earnings * MS_PER_HOUR) % hoursMs !== 0n ? v - 1n : v;
}
