import { describe, expect } from 'vitest';
import type { AppInstance } from '@fairlabel/http';
import { integrationTest, Seed, type Actor, type WorkerActor } from '@fairlabel/testing';
import { settlementRoutes } from '../src/index.js';
import { afterLastWrite, post } from './helpers.js';

// Pay floors, top-ups and the fair-pay report on a small data set whose figures are computed by hand.
//
// Floors (INR paise per hour): IN 6000; IN-KA 8000; IN tier 1 9000 (a province outranks a tier).
// Jobs pay 2000 per annotation at L1, no vendor commission. Client A tops up from its own account;
// client B only reports.
//   W1 (KA, tier 3, floor 8000): two accepted, 30 min each (one on A's job, one on B's) -> 1 h, 4000
//       -> 4000/h, shortfall 4000, split 2000 (A: paid) / 2000 (B: reported).
//   W2 (KA, tier 1, floor 8000: province first): one accepted on A's job in 15 min, and a lease on A's
//       job that expired with its last heartbeat 15 min in -> 0.5 h, 2000 -> 4000/h, shortfall 2000 (A: paid).
//   W3 (MH, tier 3, floor 6000): one accepted on B's job reporting 2 h in a 10 min lease (capped to
//       10 min), and a 20 min review on B's job paid 600 -> 0.5 h, 2600 -> 5200/h, shortfall 400 (B: reported).
// Gini of [4000, 2000, 2600] = 4000 / (3 · 8600).

const periodStart = new Date(Date.now() - 6 * 3600_000);

const injectOn = (app: AppInstance) => (who: Actor, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, key?: string) =>
  app.inject({ method, url, headers: { ...who.auth, ...(key ? { 'idempotency-key': key } : {}) }, ...(payload !== undefined ? { payload: payload as object } : {}) });

const minutes = (n: number) => n * 60_000;

/**
 * The data set above, built once for the file: the floors and policies through the API, the jobs,
 * assignments and decisions straight into the tables and the ledger.
 */
const test = integrationTest({ app: [settlementRoutes] })
  .extend('scenario', { scope: 'file' }, async ({ env, app }) => {
    const seed = new Seed(env.db);
    const inject = injectOn(app);
    const finance = await seed.platformKey('finance');
    const clientA = await seed.client();
    const clientB = await seed.client();
    const vendor = await seed.vendor();
    const w1 = await seed.worker(vendor, { region_country: 'IN', region_province: 'KA', city_tier: 3 });
    const w2 = await seed.worker(vendor, { region_country: 'IN', region_province: 'KA', city_tier: 1 });
    const w3 = await seed.worker(vendor, { region_country: 'IN', region_province: 'MH', city_tier: 3 });

    const source = { source_url: 'https://example.org/test-floor', source_title: 'test floor', basis: 'test figure', effective_from: '2020-01-01', currency: 'INR' };
    for (const f of [
      { country: 'IN', hourly_minor: 6000 },
      { country: 'IN', province: 'KA', hourly_minor: 8000 },
      { country: 'IN', city_tier: 1, hourly_minor: 9000 },
    ]) {
      const res = await inject(finance, 'POST', '/v1/finance/pay-floors', { ...source, ...f });
      expect(res.statusCode, res.body).toBe(201);
    }
    expect((await inject(finance, 'PUT', '/v1/finance/floor-policies', { client_id: clientA.organizationId, mode: 'top_up', funded_by: 'client' })).statusCode).toBe(200);
    expect((await inject(finance, 'PUT', '/v1/finance/floor-policies', { client_id: clientB.organizationId, mode: 'report' })).statusCode).toBe(200);
    expect((await inject(finance, 'PUT', '/v1/finance/floor-policies', { client_id: null, mode: 'top_up', funded_by: 'platform' })).statusCode).toBe(200);

    const jobA = await seed.job(clientA, { pay_per_annotation: 2000, client_price_per_item: 5000, currency: 'INR', overlap: 3 });
    const jobB = await seed.job(clientB, { pay_per_annotation: 2000, client_price_per_item: 5000, currency: 'INR', overlap: 3, pay_policy: JSON.stringify({ review_rate: 600 }) });
    const [ta1, ta2] = await seed.tasks(jobA.id, 2);
    const [tb1] = await seed.tasks(jobB.id, 1);
    const base = Date.now() - 3 * 3600_000;
    const at = (offsetMin: number) => new Date(base + minutes(offsetMin));
    const work = async (task: { id: number; job_id: string }, w: WorkerActor, o: { status: string; leased: number; submitted?: number; spent?: number; heartbeat?: number; ended?: number }) =>
      env.db
        .insertInto('assignments')
        .values({
          task_id: task.id,
          job_id: task.job_id,
          worker_id: w.workerId,
          vendor_id: w.vendorId,
          status: o.status as never,
          leased_at: at(o.leased),
          lease_expires_at: at(o.leased + 60),
          submitted_at: o.submitted === undefined ? null : at(o.submitted),
          ended_at: o.ended !== undefined ? at(o.ended) : o.submitted !== undefined ? at(o.submitted) : null,
          last_heartbeat_at: o.heartbeat === undefined ? null : at(o.heartbeat),
          time_spent_ms: o.spent ?? null,
          decided_at: o.status === 'accepted' ? at(100) : null,
          answer: o.submitted === undefined ? null : JSON.stringify({ label: 'cat' }),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    const a1 = await work(ta1!, w1, { status: 'accepted', leased: 0, submitted: 40, spent: minutes(30) });
    const a2 = await work(tb1!, w1, { status: 'accepted', leased: 0, submitted: 35, spent: minutes(30) });
    const a3 = await work(ta1!, w2, { status: 'accepted', leased: 0, submitted: 20, spent: minutes(15) });
    await work(ta2!, w2, { status: 'expired', leased: 0, heartbeat: 15, ended: 60 });
    const a5 = await work(tb1!, w3, { status: 'accepted', leased: 0, submitted: 10, spent: minutes(120) });

    const decidedAt = at(100).toISOString();
    let decision = 1;
    await post(
      env.db,
      ...[a1, a2, a3, a5].map((a) => ({
        event: 'assignment.decided' as const,
        payload: {
          decision_id: decision++,
          assignment_id: a.id,
          task_id: a.task_id,
          job_id: a.job_id,
          client_id: a.job_id === jobA.id ? clientA.organizationId : clientB.organizationId,
          worker_id: a.worker_id,
          vendor_id: a.vendor_id,
          outcome: 'accepted' as const,
          kind: 'annotation' as const,
          worker_level: 1,
          supersedes_decision_id: null,
          decided_at: decidedAt,
        },
      })),
      {
        event: 'review.completed',
        payload: {
          review_id: 1,
          reviewer_worker_id: w3.workerId,
          reviewer_vendor_id: w3.vendorId,
          assignment_id: a2.id,
          job_id: jobB.id,
          client_id: clientB.organizationId,
          outcome: 'accepted',
          completed_at: decidedAt,
          time_spent_ms: minutes(20),
        },
      },
      ...[ta1!, ta2!, tb1!].map((t, i) => ({
        event: 'task.decided' as const,
        payload: {
          task_id: t.id,
          job_id: t.job_id,
          client_id: t.job_id === jobA.id ? clientA.organizationId : clientB.organizationId,
          agreement: 1,
          automated: i === 1,
          accepted_assignment_ids: [],
          rejected_assignment_ids: [],
          decided_at: decidedAt,
        },
      })),
    );
    return { finance, clientA, clientB, vendor, w1, w2, w3, periodEnd: await afterLastWrite(env.db) };
})
  .extend('inject', { scope: 'file' }, async ({ app }) => injectOn(app));

describe('pay floors', () => {
  test('a pay run tops workers up to their floor per the clients’ policies, once per worker however often it is replayed', async ({ env, inject, scenario }) => {
    const { finance, clientA, w1, w2, w3, periodEnd } = scenario;
    const body = { currency: 'INR', period_start: periodStart.toISOString(), period_end: periodEnd.toISOString() };
    const first = await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'floors-run');
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().floors).toEqual({ workers_under_floor: 3, topped_up: 2, topup_total: '4000', unfunded_shortfall: '2400', workers_without_floor: 0 });
    for (let i = 0; i < 3; i++) {
      const replay = await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'floors-run');
      expect(replay.json()).toEqual(first.json());
    }
    expect((await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'floors-run-again')).statusCode).toBe(409);

    const topups = await env.db.selectFrom('ledger_transactions').select(['key', 'worker_id']).where('kind', '=', 'floor_topup').execute();
    expect(topups.map((t) => t.worker_id).sort()).toEqual([w1.workerId, w2.workerId].sort());
    const tx = (await inject(finance, 'GET', '/v1/finance/transactions?kind=floor_topup')).json().data as { worker_id: string; postings: { purpose: string; owner_id: string | null; amount: string }[] }[];
    const ofW1 = tx.find((t) => t.worker_id === w1.workerId)!;
    expect(ofW1.postings.map((p) => [p.purpose, p.owner_id, p.amount])).toEqual([
      ['client_receivable', clientA.organizationId, '2000'],
      ['worker_payable', w1.workerId, '-2000'],
    ]);

    const statements = (await inject(finance, 'GET', `/v1/finance/pay-runs/${first.json().id}/statements`)).json().data as { worker_id: string; earnings: string; topup: string; total: string }[];
    const byWorker = Object.fromEntries(statements.filter((s) => s.worker_id).map((s) => [s.worker_id, [s.earnings, s.topup, s.total]]));
    expect(byWorker).toEqual({ [w1.workerId]: ['4000', '2000', '6000'], [w2.workerId]: ['2000', '2000', '4000'], [w3.workerId]: ['2600', '0', '2600'] });
  });

  test('the fair-pay report gives each worker’s effective hourly earnings, floors, Gini, top-ups and the automation share', async ({ seed, inject, scenario }) => {
    const { finance, vendor, w1, w2, w3, periodEnd } = scenario;
    const res = await inject(finance, 'GET', `/v1/reports/fair-pay?currency=INR&from=${encodeURIComponent(periodStart.toISOString())}&to=${encodeURIComponent(periodEnd.toISOString())}`);
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    const rows = Object.fromEntries(
      (report.workers as { worker_id: string; hours: number; earnings: string; effective_hourly: string; floor_hourly: string; shortfall: string; topups: string; under_floor: boolean }[]).map((r) => [
        r.worker_id,
        [r.hours, r.earnings, r.effective_hourly, r.floor_hourly, r.shortfall, r.topups, r.under_floor],
      ]),
    );
    expect(rows).toEqual({
      [w1.workerId]: [1, '4000', '4000', '8000', '4000', '2000', true],
      [w2.workerId]: [0.5, '2000', '4000', '8000', '2000', '2000', true],
      [w3.workerId]: [0.5, '2600', '5200', '6000', '400', '0', true],
    });
    expect(report.summary).toEqual({
      workers: 3,
      hours: 2,
      earnings: '8600',
      workers_under_floor: 3,
      hours_under_floor: 2,
      workers_without_floor: 0,
      gini: expect.closeTo(4000 / 25800, 12),
      topups: '4000',
      median_effective_hourly: '4000',
    });
    expect(report.by_tier).toEqual([
      { city_tier: 1, workers: 1, hours: 0.5, earnings: '2000', workers_under_floor: 1 },
      { city_tier: 3, workers: 2, hours: 1.5, earnings: '6600', workers_under_floor: 2 },
    ]);
    expect(report.automation).toEqual({ decided_items: 3, automated_items: 1, share: 1 / 3 });
    expect(report.rejection_rates.by_tier.map((r: { cohort: string; count: number; events: number }) => [r.cohort, r.count, r.events])).toEqual([
      ['1', 1, 0],
      ['3', 3, 0],
    ]);

    const csv = await inject(finance, 'GET', `/v1/reports/fair-pay?currency=INR&format=csv&from=${encodeURIComponent(periodStart.toISOString())}&to=${encodeURIComponent(periodEnd.toISOString())}`);
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\r\n')[0]).toBe('worker_id,vendor_id,country,province,city_tier,hours,earnings_minor,effective_hourly_minor,floor_hourly_minor,under_floor,shortfall_minor,topups_minor,currency');

    // A vendor sees its own workers only; another vendor none.
    const mine = await inject(vendor, 'GET', `/v1/reports/fair-pay?currency=INR&from=${encodeURIComponent(periodStart.toISOString())}&to=${encodeURIComponent(periodEnd.toISOString())}`);
    expect(mine.json().workers).toHaveLength(3);
    const other = await seed.vendor();
    const theirs = await inject(other, 'GET', `/v1/reports/fair-pay?currency=INR&from=${encodeURIComponent(periodStart.toISOString())}&to=${encodeURIComponent(periodEnd.toISOString())}`);
    expect(theirs.json().workers).toEqual([]);
  });

  test('ships a sample floor table in which every figure names its public source', async ({ inject, scenario }) => {
    const { finance } = scenario;
    const floors = (await inject(finance, 'GET', '/v1/finance/pay-floors')).json() as { country: string; source_url: string; source_title: string; source_date: string | null; basis: string }[];
    const sample = floors.filter((f) => f.source_date === '2026-11-29');
    expect(sample.map((f) => f.country).sort()).toEqual(['BR', 'IN', 'IN', 'KE', 'NG', 'PH', 'US']);
    for (const f of sample) {
      expect(f.source_url).toMatch(/^https:\/\//);
      expect(f.source_title.length).toBeGreaterThan(5);
      expect(f.basis.length).toBeGreaterThan(20);
    }
  });

  test('converts a floor into the pay currency with the operator’s exchange rate, rounding up', async ({ env, inject, scenario }) => {
    const { finance } = scenario;
    const res = await inject(finance, 'POST', '/v1/finance/fx-rates', { base: 'INR', quote: 'USD', effective_from: '2020-01-01T00:00:00Z', rate: '0.0119', source: 'test rate' });
    expect(res.statusCode, res.body).toBe(201);
    const { floorTable } = await import('../src/floors.js');
    const lookup = await floorTable(env.db, 'USD', new Date());
    expect(lookup({ country: 'IN', province: 'KA', cityTier: 3 })).toBe(96n);
    expect(lookup({ country: 'KE', province: null, cityTier: 3 })).toBeNull();
  });
});
