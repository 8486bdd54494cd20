import { sql, type Db } from '@fairlabel/db';
import { toCsv } from './csv.js';
import { cohortRates, gini, median } from './fair-pay.stats.js';
import { effectiveHourly, MS_PER_HOUR, shortfall, workersInPeriod } from './floors.js';
import { money, sum } from './money.js';

const hoursOf = (ms: bigint) => Math.round((Number(ms) / Number(MS_PER_HOUR)) * 1000) / 1000;

/**
 * Who earns what, where, in one currency over [from, to): each worker's effective hourly earnings
 * (all working time counted, see floors.ts) against their region's floor; workers and hours under it;
 * earnings by city tier and by vendor; the Gini coefficient of worker earnings; top-ups paid; rejection
 * and suspension rates by tier and vendor with a significance test; the share of items models decided.
 */
export async function fairPayReport(db: Db, q: { from: string; to: string; currency: string }, vendorScope: string | null = null) {
  const from = new Date(q.from);
  const to = new Date(q.to);
  let workers = await workersInPeriod(db, q.currency, from, to);
  if (vendorScope) workers = workers.filter((w) => w.vendorId === vendorScope);
  workers.sort((a, b) => (a.workerId < b.workerId ? -1 : 1));

  const rows = workers.map((w) => {
    const hourly = effectiveHourly(w.earnings, w.hoursMs);
    const gap = w.floorHourly !== null && w.hoursMs > 0n ? shortfall(w.floorHourly, w.hoursMs, w.earnings) : 0n;
    return {
      worker_id: w.workerId,
      vendor_id: w.vendorId,
      country: w.country,
      province: w.province,
      city_tier: w.cityTier,
      hours: hoursOf(w.hoursMs),
      hoursMs: w.hoursMs,
      earnings: money(w.earnings),
      earningsBig: w.earnings,
      effective_hourly: hourly === null ? null : money(hourly),
      hourlyBig: hourly,
      floor_hourly: w.floorHourly === null ? null : money(w.floorHourly),
      under_floor: gap > 0n,
      shortfall: money(gap),
      topups: money(w.topups),
      topupsBig: w.topups,
    };
  });

  const group = <K extends string | number>(key: (r: (typeof rows)[number]) => K) => {
    const m = new Map<K, (typeof rows)[number][]>();
    for (const r of rows) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
    return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  };
  const aggregate = (rs: (typeof rows)[number][]) => ({
    workers: rs.length,
    hours: hoursOf(sum(rs.map((r) => r.hoursMs))),
    earnings: money(sum(rs.map((r) => r.earningsBig))),
    workers_under_floor: rs.filter((r) => r.under_floor).length,
  });

  const decided = await sql<{ city_tier: number; vendor_id: string; decided: number; rejected: number }>`
    SELECT w.city_tier, a.vendor_id, count(*)::int AS decided, count(*) FILTER (WHERE a.status = 'rejected')::int AS rejected
    FROM assignments a JOIN jobs j ON j.id = a.job_id JOIN workers w ON w.id = a.worker_id
    WHERE a.status IN ('accepted', 'rejected') AND a.decided_at >= ${from} AND a.decided_at < ${to} AND j.currency = ${q.currency}
      AND (${vendorScope}::uuid IS NULL OR a.vendor_id = ${vendorScope}::uuid)
    GROUP BY w.city_tier, a.vendor_id
  `.execute(db);
  const suspended = new Set(
    (
      await sql<{ worker_id: string }>`
        SELECT DISTINCT worker_id FROM worker_skills WHERE suspended_at >= ${from} AND suspended_at < ${to}
      `.execute(db)
    ).rows.map((r) => r.worker_id),
  );
  const sumBy = <K extends string | number>(key: (r: (typeof decided.rows)[number]) => K) => {
    const m = new Map<K, { count: number; events: number }>();
    for (const r of decided.rows) {
      const e = m.get(key(r)) ?? { count: 0, events: 0 };
      e.count += r.decided;
      e.events += r.rejected;
      m.set(key(r), e);
    }
    return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => ({ cohort: String(k), ...v }));
  };
  const suspendedBy = <K extends string | number>(key: (r: (typeof rows)[number]) => K) =>
    group(key).map(([k, rs]) => ({ cohort: String(k), count: rs.length, events: rs.filter((r) => suspended.has(r.worker_id)).length }));

  const automation = await sql<{ decided: number; automated: number }>`
    SELECT count(*)::int AS decided, count(*) FILTER (WHERE (details->>'automated')::boolean)::int AS automated
    FROM ledger_transactions
    WHERE kind = 'client_charge' AND effective_at >= ${from} AND effective_at < ${to} AND currency = ${q.currency}
  `.execute(db);
  const auto = automation.rows[0] ?? { decided: 0, automated: 0 };

  const under = rows.filter((r) => r.under_floor);
  const hourlies = rows.map((r) => r.hourlyBig).filter((h): h is bigint => h !== null);
  const medianHourly = median(hourlies);
  return {
    from,
    to,
    currency: q.currency,
    workers: rows.map(({ hoursMs: _h, earningsBig: _e, hourlyBig: _y, topupsBig: _t, ...r }) => r),
    summary: {
      workers: rows.length,
      hours: hoursOf(sum(rows.map((r) => r.hoursMs))),
      earnings: money(sum(rows.map((r) => r.earningsBig))),
      workers_under_floor: under.length,
      hours_under_floor: hoursOf(sum(under.map((r) => r.hoursMs))),
      workers_without_floor: rows.filter((r) => r.floor_hourly === null && r.hoursMs > 0n).length,
      gini: gini(rows.map((r) => r.earningsBig)),
      topups: money(sum(rows.map((r) => r.topupsBig))),
      median_effective_hourly: medianHourly === null ? null : money(medianHourly),
    },
    by_tier: group((r) => r.city_tier).map(([tier, rs]) => ({ city_tier: tier, ...aggregate(rs) })),
    by_vendor: group((r) => r.vendor_id).map(([vendor, rs]) => ({ vendor_id: vendor, ...aggregate(rs) })),
    rejection_rates: { by_tier: cohortRates(sumBy((r) => r.city_tier)), by_vendor: cohortRates(sumBy((r) => r.vendor_id)) },
    suspension_rates: { by_tier: cohortRates(suspendedBy((r) => r.city_tier)), by_vendor: cohortRates(suspendedBy((r) => r.vendor_id)) },
    automation: { decided_items: auto.decided, automated_items: auto.automated, share: auto.decided > 0 ? auto.automated / auto.decided : null },
  };
}

export function fairPayCsv(report: Awaited<ReturnType<typeof fairPayReport>>): string {
  return toCsv(
    [
      { name: 'worker_id', text: true },
      { name: 'vendor_id', text: true },
      { name: 'country', text: true },
      { name: 'province', text: true },
      { name: 'city_tier' },
      { name: 'hours' },
      { name: 'earnings_minor' },
      { name: 'effective_hourly_minor' },
      { name: 'floor_hourly_minor' },
      { name: 'under_floor' },
      { name: 'shortfall_minor' },
      { name: 'topups_minor' },
      { name: 'currency', text: true },
    ],
    report.workers.map((w) => [w.worker_id, w.vendor_id, w.country, w.province, w.city_tier, w.hours, w.earnings, w.effective_hourly, w.floor_hourly, w.under_floor, w.shortfall, w.topups, report.currency]),
  );
}
