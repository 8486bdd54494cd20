import { sql, type Db } from '@fairlabel/db';
import { conflict, decodeCursor, notFound, pageResult, type AuthContext } from '@fairlabel/http';
import { toCsv } from './csv.js';
import { big, money, toMajor } from './money.js';

/**
 * Statements: finance and admin read every one; a vendor reads its own and its workers'; a worker
 * reads their own. The scope is part of the SQL (another tenant's statement is a 404, as if it did
 * not exist).
 */
export type StatementScope = { all: true } | { vendorId: string } | { workerId: string };

export function scopeOf(caller: AuthContext): StatementScope {
  if (caller.role === 'finance' || caller.role === 'admin') return { all: true };
  if (caller.role === 'worker' && caller.workerId) return { workerId: caller.workerId };
  if (caller.role === 'vendor') return { vendorId: caller.organizationId };
  // Other roles see none (their routes do not reach here).
  return { workerId: '00000000-0000-0000-0000-000000000000' };
}

function statementQuery(db: Db) {
  return db
    .selectFrom('statements as s')
    .innerJoin('pay_runs as r', 'r.id', 's.pay_run_id')
    .leftJoin('workers as w', 'w.id', 's.worker_id')
    .leftJoin('organizations as v', 'v.id', 's.vendor_id')
    .select([
      's.id',
      's.pay_run_id',
      's.payee_type',
      's.worker_id',
      's.vendor_id',
      sql<string>`coalesce(w.display_name, v.name, '')`.as('payee_name'),
      's.currency',
      'r.period_start',
      'r.period_end',
      'r.status as pay_run_status',
      sql<string>`s.earnings::text`.as('earnings'),
      sql<string>`s.topup::text`.as('topup'),
      sql<string>`s.total::text`.as('total'),
      's.status',
      's.payout_reference',
      's.paid_at',
      's.account_id',
      's.after_transaction_id',
      's.through_transaction_id',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof statementQuery>['execute']>>[number];

function toStatement(r: Row) {
  const { account_id: _a, after_transaction_id: _f, through_transaction_id: _t, ...rest } = r;
  return { ...rest, earnings: money(r.earnings), topup: money(r.topup), total: money(r.total) };
}

function scoped<Q extends ReturnType<typeof statementQuery>>(q: Q, scope: StatementScope): Q {
  if ('workerId' in scope) return q.where('s.worker_id', '=', scope.workerId) as Q;
  if ('vendorId' in scope) return q.where('s.vendor_id', '=', scope.vendorId) as Q;
  return q;
}

export async function listStatements(db: Db, scope: StatementScope, q: { cursor?: string | undefined; limit: number; worker_id?: string | undefined; pay_run_id?: number | undefined }) {
  let query = scoped(statementQuery(db), scope).orderBy('s.id', 'desc').limit(q.limit + 1);
  if (q.worker_id) query = query.where('s.worker_id', '=', q.worker_id);
  if (q.pay_run_id) query = query.where('s.pay_run_id', '=', q.pay_run_id);
  if (q.cursor) query = query.where('s.id', '<', decodeCursor(q.cursor, ['int'])[0]);
  const page = pageResult(await query.execute(), q.limit, (r) => [r.id]);
  return { data: page.data.map(toStatement), next_cursor: page.next_cursor };
}

/** One statement with its lines: the ledger transactions of its range (and its top-up) by kind and job. */
export async function getStatement(db: Db, scope: StatementScope, id: number) {
  const row = await scoped(statementQuery(db), scope).where('s.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('statement');
  const lines = await sql<{ kind: string; job_id: string | null; transactions: number; amount: string }>`
    SELECT t.kind, t.job_id, count(DISTINCT t.id)::int AS transactions, (-sum(p.amount))::text AS amount
    FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
    WHERE p.account_id = ${row.account_id}
      AND ((p.transaction_id > ${row.after_transaction_id} AND p.transaction_id <= ${row.through_transaction_id} AND p.pay_run_id IS NULL)
        OR (p.pay_run_id = ${row.pay_run_id} AND t.kind = 'floor_topup'))
    GROUP BY t.kind, t.job_id
    ORDER BY t.kind, t.job_id NULLS FIRST
  `.execute(db);
  return { ...toStatement(row), lines: lines.rows.map((l) => ({ ...l, kind: l.kind as never, amount: money(l.amount) })) };
}

const csvColumns = [
  { name: 'statement_id' },
  { name: 'pay_run_id' },
  { name: 'payee_type', text: true },
  { name: 'worker_id', text: true },
  { name: 'vendor_id', text: true },
  { name: 'payee_name', text: true },
  { name: 'currency', text: true },
  { name: 'period_start' },
  { name: 'period_end' },
  { name: 'earnings_minor' },
  { name: 'topup_minor' },
  { name: 'total_minor' },
  { name: 'status', text: true },
  { name: 'payout_reference', text: true },
  { name: 'paid_at' },
];

/** Every statement of a run, as CSV (one row each). */
export async function payRunStatementsCsv(db: Db, runId: number): Promise<string> {
  const run = await db.selectFrom('pay_runs').select('id').where('id', '=', runId).executeTakeFirst();
  if (!run) throw notFound('pay run');
  const rows = await statementQuery(db).where('s.pay_run_id', '=', runId).orderBy('s.id').execute();
  return toCsv(
    csvColumns,
    rows.map((r) => [r.id, r.pay_run_id, r.payee_type, r.worker_id, r.vendor_id, r.payee_name, r.currency, r.period_start, r.period_end, r.earnings, r.topup, r.total, r.status, r.payout_reference, r.paid_at]),
  );
}

/**
 * The payout file for a payment provider's bulk upload (approved runs only): one row per unpaid
 * statement, with the amount both in minor units and as a decimal of the currency, and the statement
 * id as the end-to-end reference to quote back when recording the payout.
 */
export async function payoutFile(db: Db, runId: number): Promise<string> {
  const run = await db.selectFrom('pay_runs').select(['id', 'status']).where('id', '=', runId).executeTakeFirst();
  if (!run) throw notFound('pay run');
  if (run.status === 'draft') throw conflict('invalid_transition', 'a payout file is made for approved runs only: approve the run first');
  const rows = await statementQuery(db).where('s.pay_run_id', '=', runId).where('s.status', '=', 'unpaid').orderBy('s.id').execute();
  return toCsv(
    [
      { name: 'end_to_end_id', text: true },
      { name: 'payee_type', text: true },
      { name: 'payee_id', text: true },
      { name: 'payee_name', text: true },
      { name: 'vendor_id', text: true },
      { name: 'currency', text: true },
      { name: 'amount_minor' },
      { name: 'amount' },
      { name: 'description', text: true },
    ],
    rows.map((r) => [
      `statement-${r.id}`,
      r.payee_type,
      r.worker_id ?? r.vendor_id,
      r.payee_name,
      r.vendor_id,
      r.currency,
      r.total,
      toMajor(big(r.total), r.currency),
      `fairlabel pay run ${r.pay_run_id} ${r.period_start.toISOString().slice(0, 10)}..${r.period_end.toISOString().slice(0, 10)}`,
    ]),
  );
}

/** A worker's earnings per currency from the ledger (the st_worker_earnings view, which /v1/me reads too). */
export async function workerEarnings(db: Db, workerId: string) {
  const rows = await db.selectFrom('st_worker_earnings').select(['currency', 'pending', 'approved', 'paid']).where('worker_id', '=', workerId).orderBy('currency').execute();
  return { by_currency: rows.map((r) => ({ currency: r.currency, pending: money(r.pending), approved: money(r.approved), paid: money(r.paid) })) };
}
