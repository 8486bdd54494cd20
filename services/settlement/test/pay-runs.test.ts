import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { integrationTest, newWorker, Seed, type Actor } from '@fairlabel/testing';
import { settlementRoutes } from '../src/index.js';
import type { Db } from '@fairlabel/db';
import { afterLastWrite, asDecision, decided, post, world } from './helpers.js';

// Pay runs end to end over HTTP: draft -> approved -> paid, idempotent replay, no posting in two runs,
// carry-over under the minimum payout, approval refused while reconciliation finds a discrepancy,
// statements and payout files, and who may read what.

/**
 * The pay runs below are one story over one ledger: each test takes the next period and builds on
 * the runs before it. The world they pay (two workers, three tasks, a vendor commission) is the file's.
 */
const test = integrationTest({ app: [settlementRoutes] })
  .extend('w', { scope: 'file' }, async ({ env }) => {
    const w = await world(new Seed(env.db), { workers: 2, tasks: 3, pay: 100 });
    await env.db.insertInto('vendor_contracts').values({ vendor_id: w.vendor.organizationId, effective_from: new Date('2020-01-01'), commission_bp: 1000 }).execute();
    return w;
  })
  .extend('inject', { scope: 'file' }, async ({ app }) => (who: Actor, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, key?: string) =>
    app.inject({ method, url, headers: { ...who.auth, ...(key ? { 'idempotency-key': key } : {}) }, ...(payload !== undefined ? { payload: payload as object } : {}) }),
  )
  /** Posts QA's decision on each of the world's assignments (or `which`). */
  .extend('decideAll', { scope: 'file' }, async ({ env, w }) => async (outcome: 'accepted' | 'rejected', which = w.assignments) => {
    await post(env.db, ...which.map((a) => asDecision(decided(a, w.client.organizationId, outcome))));
  });

let lastEnd = new Date('2026-01-01T00:00:00Z');
/**
 * The next period: from the last run's end to after the last posting and decision (the ledger is cut,
 * and decisions reconciled, strictly before the period's end; see afterLastWrite).
 */
async function nextPeriod(db: Db) {
  const start = lastEnd;
  const end = await afterLastWrite(db);
  lastEnd = end;
  return { currency: 'USD', period_start: start.toISOString(), period_end: end.toISOString() };
}


describe('pay run lifecycle', () => {
  let runId: number;
  let statements: { id: number; worker_id: string | null; payee_type: string; total: string; status: string }[];

  test('a draft run gathers each worker’s and the vendor’s unpaid balance; a replay with the same key returns the same run', async ({ env, finance, inject, decideAll }) => {
    await decideAll('accepted');
    const body = { ...(await nextPeriod(env.db)), minimum_payout: 1 };
    const created = await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'run-1');
    expect(created.statusCode, created.body).toBe(201);
    const run = created.json();
    expect(run).toMatchObject({ status: 'draft', currency: 'USD', statements: 3, worker_total: '540', vendor_total: '60', total: '600', paid_statements: 0 });
    runId = run.id;

    const replay = await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'run-1');
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(run);
    expect((await env.db.selectFrom('pay_runs').select('id').execute()).length).toBe(1);

    // The same period under another key is another run of an overlapping period: refused.
    const again = await inject(finance, 'POST', '/v1/finance/pay-runs', body, 'run-1-other');
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('period_overlaps');

    const page = await inject(finance, 'GET', `/v1/finance/pay-runs/${runId}/statements`);
    expect(page.statusCode, page.body).toBe(200);
    statements = page.json().data;
    expect(statements.map((s) => [s.payee_type, s.total]).sort()).toEqual([['vendor', '60'], ['worker', '270'], ['worker', '270']]);

    const csv = await inject(finance, 'GET', `/v1/finance/pay-runs/${runId}/statements?format=csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('statement_id,pay_run_id,payee_type,worker_id,vendor_id,payee_name,currency,period_start,period_end,earnings_minor,topup_minor,total_minor,status,payout_reference,paid_at');
    expect(lines).toHaveLength(4);
  });

  test('a statement shows its lines, and the worker reads it as pending earnings', async ({ w, inject }) => {
    const mine = statements.find((s) => s.worker_id === w.workers[0]!.workerId)!;
    const detail = await inject(w.workers[0]!, 'GET', `/v1/statements/${mine.id}`);
    expect(detail.statusCode, detail.body).toBe(200);
    expect(detail.json().lines).toEqual([{ kind: 'earning', job_id: w.job.id, transactions: 3, amount: '270' }]);
    const earnings = await inject(w.workers[0]!, 'GET', '/v1/me/earnings');
    expect(earnings.json()).toEqual({ by_currency: [{ currency: 'USD', pending: '270', approved: '0', paid: '0' }] });
  });

  test('a payout file is refused for a draft; approve, then record payouts: the run is paid', async ({ finance, w, inject }) => {
    expect((await inject(finance, 'GET', `/v1/finance/pay-runs/${runId}/payout-file`)).statusCode).toBe(409);
    const approved = await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().status).toBe('approved');
    expect((await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/approve`)).statusCode).toBe(409);

    const file = await inject(finance, 'GET', `/v1/finance/pay-runs/${runId}/payout-file`);
    expect(file.statusCode).toBe(200);
    const rows = file.body.trim().split('\r\n');
    expect(rows[0]).toBe('end_to_end_id,payee_type,payee_id,payee_name,vendor_id,currency,amount_minor,amount,description');
    expect(rows.slice(1).map((r) => r.split(',')[7]).sort()).toEqual(['0.60', '2.70', '2.70']);

    const mine = statements.find((s) => s.worker_id === w.workers[0]!.workerId)!;
    expect((await inject(w.workers[0]!, 'GET', '/v1/me/earnings')).json().by_currency[0]).toMatchObject({ pending: '0', approved: '270', paid: '0' });

    const first = await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/payouts`, { payouts: [{ statement_id: mine.id, reference: 'PSP-1' }] }, 'pay-1');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ status: 'approved', paid_statements: 1 });
    // The same reference again: nothing changes. Another reference for a paid statement: refused.
    expect((await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/payouts`, { payouts: [{ statement_id: mine.id, reference: 'PSP-1' }] })).json().paid_statements).toBe(1);
    expect((await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/payouts`, { payouts: [{ statement_id: mine.id, reference: 'PSP-X' }] })).statusCode).toBe(409);

    const rest = statements.filter((s) => s.id !== mine.id).map((s, i) => ({ statement_id: s.id, reference: `PSP-${i + 2}` }));
    const paid = await inject(finance, 'POST', `/v1/finance/pay-runs/${runId}/payouts`, { payouts: rest }, 'pay-2');
    expect(paid.json()).toMatchObject({ status: 'paid', paid_statements: 3 });
    expect((await inject(w.workers[0]!, 'GET', '/v1/me/earnings')).json().by_currency[0]).toEqual({ currency: 'USD', pending: '0', approved: '0', paid: '270' });

    const recon = await inject(finance, 'GET', '/v1/finance/reconciliation');
    expect(recon.statusCode, recon.body).toBe(200);
    expect(recon.json()).toMatchObject({ ok: true, discrepancies: [], ledger: [{ currency: 'USD', total: '0' }] });
  });

  test('no posting is in two runs: the next run covers only what came after, and the database refuses overlapping ranges', async ({ env, seed, finance, w, inject }) => {
    const extra = await seed.answers([{ id: w.tasks[0]!.id, job_id: w.job.id }], await newWorker(env.db, w.vendor.organizationId), { status: 'submitted' });
    await post(env.db, asDecision(decided(extra[0]!, w.client.organizationId, 'accepted')));
    const created = await inject(finance, 'POST', '/v1/finance/pay-runs', await nextPeriod(env.db), 'run-2');
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ statements: 2, worker_total: '90', vendor_total: '10' });
    const overlapping = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM statements a JOIN statements b ON a.account_id = b.account_id AND a.id < b.id
      WHERE int8range(a.after_transaction_id, a.through_transaction_id, '(]') && int8range(b.after_transaction_id, b.through_transaction_id, '(]')
    `.execute(env.db);
    expect(overlapping.rows[0]!.n).toBe(0);
    // A statement of the first run for an account the second run does not cover, copied into the second run.
    const first = await env.db.selectFrom('statements').selectAll().where('worker_id', '=', w.workers[0]!.workerId).orderBy('id').executeTakeFirstOrThrow();
    await expect(
      env.db
        .insertInto('statements')
        .values({ ...first, id: undefined as never, pay_run_id: created.json().id, status: 'unpaid', payout_reference: null, paid_at: null, payout_transaction_id: null })
        .execute(),
    ).rejects.toMatchObject({ code: '23P01' });
  });

  test('a balance under the minimum payout carries over to the next run', async ({ env, seed, finance, w, inject }) => {
    const extra = await seed.answers([{ id: w.tasks[1]!.id, job_id: w.job.id }], await newWorker(env.db, w.vendor.organizationId), { status: 'submitted' });
    await post(env.db, asDecision(decided(extra[0]!, w.client.organizationId, 'accepted')));
    const low = await inject(finance, 'POST', '/v1/finance/pay-runs', { ...(await nextPeriod(env.db)), minimum_payout: 1000 }, 'run-3');
    expect(low.json()).toMatchObject({ statements: 0, total: '0' });
    const next = await inject(finance, 'POST', '/v1/finance/pay-runs', { ...(await nextPeriod(env.db)), minimum_payout: 0 }, 'run-4');
    expect(next.json()).toMatchObject({ statements: 2, worker_total: '90', vendor_total: '10' });
  });

  test('approval is refused while reconciliation finds a discrepancy, and allowed once it is resolved', async ({ env, seed, finance, w, inject }) => {
    // Worker-assignment marked an assignment accepted, but its assignment.decided never reached settlement.
    const lost = await seed.answers([{ id: w.tasks[2]!.id, job_id: w.job.id }], await newWorker(env.db, w.vendor.organizationId), { status: 'accepted' });
    const run = (await inject(finance, 'POST', '/v1/finance/pay-runs', await nextPeriod(env.db), 'run-5')).json();
    const refused = await inject(finance, 'POST', `/v1/finance/pay-runs/${run.id}/approve`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('reconciliation_discrepancies');
    expect(refused.json().error.details).toEqual([expect.objectContaining({ code: 'missing_earning', assignment_id: lost[0]!.id })]);
    const recon = (await inject(finance, 'GET', '/v1/finance/reconciliation?currency=USD')).json();
    expect(recon.ok).toBe(false);
    expect(recon.discrepancy_count).toBe(1);

    await post(env.db, asDecision(decided(lost[0]!, w.client.organizationId, 'accepted', { decided_at: lost[0]!.decided_at!.toISOString() })));
    const approved = await inject(finance, 'POST', `/v1/finance/pay-runs/${run.id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
  });
});

describe('adjustments and reversals', () => {
  test('posts an adjustment once per Idempotency-Key, with who made it in the audit log, and reverses it once', async ({ env, finance, admin, w, inject }) => {
    const body = { account: { owner_type: 'worker', owner_id: w.workers[1]!.workerId }, currency: 'USD', amount: 250, reason: 'bonus for the hard batch' };
    const counted = async () => (await env.metrics.ledgerPostings.get()).values.find((v) => v.labels.kind === 'adjustment')!.value;
    const before = await counted();
    const first = await inject(admin, 'POST', '/v1/finance/adjustments', body, 'adj-1');
    expect(first.statusCode, first.body).toBe(201);
    expect(await counted()).toBe(before + 2);
    const tx = first.json();
    expect(tx.postings.map((p: { purpose: string; amount: string }) => [p.purpose, p.amount])).toEqual([
      ['worker_payable', '-250'],
      ['adjustments', '250'],
    ]);
    expect((await inject(admin, 'POST', '/v1/finance/adjustments', body, 'adj-1')).json().id).toBe(tx.id);
    expect(await counted()).toBe(before + 2); // the replay posted nothing
    const audit = await env.db.selectFrom('audit_log').select(['action', 'actor_key_id']).where('resource_id', '=', String(tx.id)).execute();
    expect(audit).toEqual([{ action: 'ledger.adjustment', actor_key_id: admin.keyId }]);

    const reversal = await inject(finance, 'POST', `/v1/finance/transactions/${tx.id}/reversal`, { reason: 'wrong worker' }, 'rev-1');
    expect(reversal.statusCode, reversal.body).toBe(201);
    expect(reversal.json()).toMatchObject({ kind: 'reversal', reverses_id: tx.id });
    expect((await inject(finance, 'POST', `/v1/finance/transactions/${tx.id}/reversal`, { reason: 'again' })).statusCode).toBe(409);

    const earning = await env.db.selectFrom('ledger_transactions').select('id').where('kind', '=', 'earning').executeTakeFirstOrThrow();
    const byDecision = await inject(finance, 'POST', `/v1/finance/transactions/${earning.id}/reversal`, { reason: 'not this way' });
    expect(byDecision.statusCode).toBe(422);
    expect(byDecision.json().error.code).toBe('reverse_by_decision');
  });

  test('never answers a 500 for bad input', async ({ finance, w, inject }) => {
    for (const [method, url, payload] of [
      ['POST', '/v1/finance/adjustments', { account: { owner_type: 'worker', owner_id: 'nope' }, currency: 'USD', amount: 1, reason: 'x' }],
      ['POST', '/v1/finance/adjustments', { account: { owner_type: 'worker', owner_id: w.workers[0]!.workerId }, currency: 'USD', amount: 1.5, reason: 'bonus' }],
      ['POST', '/v1/finance/adjustments', { account: { owner_type: 'vendor', owner_id: w.workers[0]!.workerId }, currency: 'USD', amount: 1, reason: 'bonus' }],
      ['POST', '/v1/finance/pay-runs', { currency: 'usd', period_start: 'x', period_end: 'y' }],
      ['POST', '/v1/finance/pay-runs', { currency: 'USD', period_start: '2030-01-01T00:00:00Z', period_end: '2031-01-01T00:00:00Z' }],
      ['GET', '/v1/finance/pay-runs/abc', undefined],
      ['GET', '/v1/finance/pay-runs/999999', undefined],
      ['GET', '/v1/finance/reconciliation?from=yesterday', undefined],
      ['POST', '/v1/finance/pay-runs/1/payouts', { payouts: [{ statement_id: 999999, reference: 'r' }] }],
    ] as const) {
      const res = await inject(finance, method, url, payload);
      expect(res.statusCode, `${method} ${url} ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${method} ${url} ${res.body}`).toBeLessThan(500);
    }
  });
});

describe('roles', () => {
  test('only finance and admin keys reach pay runs, adjustments, reconciliation and rates', async ({ seed, admin, ops, w, inject }) => {
    const client = await seed.client();
    const vendor = w.vendor;
    for (const who of [client, vendor, w.workers[0]!, ops]) {
      for (const [method, url] of [
        ['GET', '/v1/finance/pay-runs'],
        ['POST', '/v1/finance/pay-runs'],
        ['POST', '/v1/finance/adjustments'],
        ['GET', '/v1/finance/reconciliation'],
        ['POST', '/v1/finance/level-multipliers'],
      ] as const) {
        const res = await inject(who, method, url, method === 'POST' ? {} : undefined);
        expect(res.statusCode, `${who.keyId} ${method} ${url}`).toBe(403);
      }
    }
    expect((await inject(admin, 'GET', '/v1/finance/pay-runs')).statusCode).toBe(200);
  });

  test('a vendor reads only its own and its workers’ statements; a worker only their own', async ({ seed, finance, w, inject }) => {
    const other = await seed.vendor();
    const all = (await inject(finance, 'GET', '/v1/statements?limit=500')).json().data as { id: number; worker_id: string | null; vendor_id: string }[];
    expect(all.length).toBeGreaterThan(3);

    const mineAsVendor = (await inject(w.vendor, 'GET', '/v1/statements?limit=500')).json().data as { id: number }[];
    expect(mineAsVendor.map((s) => s.id).sort()).toEqual(all.filter((s) => s.vendor_id === w.vendor.organizationId).map((s) => s.id).sort());
    expect((await inject(other, 'GET', '/v1/statements')).json().data).toEqual([]);
    expect((await inject(other, 'GET', `/v1/statements/${all[0]!.id}`)).statusCode).toBe(404);

    const me = w.workers[0]!;
    const mine = (await inject(me, 'GET', '/v1/me/statements')).json().data as { worker_id: string }[];
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((s) => s.worker_id === me.workerId)).toBe(true);
    const someoneElse = all.find((s) => s.worker_id !== null && s.worker_id !== me.workerId)!;
    expect((await inject(me, 'GET', `/v1/statements/${someoneElse.id}`)).statusCode).toBe(404);
    const strayWorker = await seed.worker(other);
    expect((await inject(strayWorker, 'GET', '/v1/me/statements')).json().data).toEqual([]);
  });

  test('a client reads only its own invoices', async ({ seed, finance, w, inject }) => {
    const invoice = await inject(finance, 'POST', '/v1/finance/invoices', { client_id: w.client.organizationId, currency: 'USD', period_start: '2026-01-01T00:00:00Z', period_end: new Date().toISOString() }, 'inv-1');
    expect(invoice.statusCode, invoice.body).toBe(201);
    const other = await seed.client();
    expect((await inject(w.client, 'GET', `/v1/invoices/${invoice.json().id}`)).statusCode).toBe(200);
    expect((await inject(other, 'GET', `/v1/invoices/${invoice.json().id}`)).statusCode).toBe(404);
    expect((await inject(other, 'GET', '/v1/invoices')).json().data).toEqual([]);
  });
});
