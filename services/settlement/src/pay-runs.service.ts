import { sql, type Db } from '@fairlabel/db';
import { conflict, decodeCursor, notFound, pageResult, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';
import { accountId, countPosted, lockLedger, postedSince, postTransaction, type LedgerMetrics, type Leg, type Trx } from './ledger.js';
import { allocate, big, money } from './money.js';
import { shortfall, workersInPeriod } from './floors.js';
import { reconcile } from './reconciliation.service.js';

/**
 * Pay runs gather every unpaid worker and vendor balance of a currency into statements:
 * draft -> approved -> paid.
 *
 * A run cuts the ledger at its period's end: it covers the ledger transactions posted before
 * period_end (ids up to `through_transaction_id`: ledger writers take turns on the ledger lock, so ids
 * grow with posted_at). A payee's statement covers that payee's transactions in (the end of their
 * previous statement, the cut] that no run made, plus the top-up this run adds; the database refuses
 * overlapping ranges of one account, so a posting belongs to at most one run. A balance under the run's
 * minimum payout (or negative: a correction after a payout) gets no statement and carries over, since
 * the next statement of that account starts where its last one ended.
 */

export interface CreatePayRunInput {
  currency: string;
  period_start: string;
  period_end: string;
  minimum_payout: number;
}

interface FloorSummary {
  workers_under_floor: number;
  topped_up: number;
  topup_total: string;
  unfunded_shortfall: string;
  workers_without_floor: number;
}

export async function createPayRun(db: Db, caller: AuthContext, input: CreatePayRunInput, now: Date, metrics?: LedgerMetrics) {
  const start = new Date(input.period_start);
  const end = new Date(input.period_end);
  if (end.getTime() > now.getTime()) {
    throw unprocessable('period_not_over', 'a pay run’s period must have ended: period_end is in the future', [{ path: 'body.period_end', message: 'in the future' }]);
  }
  const { runId, posted } = await db.transaction().execute(async (trx) => {
    const mark = await lockLedger(trx);
    const last = await trx
      .selectFrom('pay_runs')
      .select(['id', 'period_end'])
      .where('currency', '=', input.currency)
      .orderBy('period_end', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last && last.period_end.getTime() > start.getTime()) {
      throw conflict('period_overlaps', `pay runs of ${input.currency} follow each other: the last one (#${last.id}) ends ${last.period_end.toISOString()}`, [
        { path: 'body.period_start', message: `must not be before ${last.period_end.toISOString()}` },
      ]);
    }
    const cut = await trx
      .selectFrom('ledger_transactions')
      .select((eb) => eb.fn.max('id').as('id'))
      .where('posted_at', '<', end)
      .executeTakeFirst();
    const run = await trx
      .insertInto('pay_runs')
      .values({
        currency: input.currency,
        period_start: start,
        period_end: end,
        through_transaction_id: cut?.id ?? 0,
        minimum_payout: input.minimum_payout,
        created_by_key_id: caller.keyId,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const floors = await applyFloors(trx, run.id, input.currency, start, end);
    await trx.updateTable('pay_runs').set({ floor_summary: JSON.stringify(floors) }).where('id', '=', run.id).execute();
    await writeStatements(trx, run.id, input.currency, cut?.id ?? 0, input.minimum_payout);
    await writeAudit(trx, caller, {
      action: 'pay_run.created',
      resourceType: 'pay_run',
      resourceId: String(run.id),
      details: { currency: input.currency, period_start: input.period_start, period_end: input.period_end, minimum_payout: input.minimum_payout, floors },
    });
    return { runId: run.id, posted: await postedSince(trx, mark) };
  });
  countPosted(metrics, posted);
  return getPayRun(db, runId);
}

/**
 * For each worker under their floor in the period, tops their pay up to it (Fairwork: at least the
 * local minimum after all working time). The shortfall is split between the clients whose work took
 * the worker's hours, by hours; each client's share follows that client's floor policy (or the
 * platform's default, `report` when none is set): `top_up` pays it from the account the policy names
 * (the client's receivable or the platform's floor fund), `report` only counts it. One top-up
 * transaction per worker per run (`payrun:<id>:topup:<worker>`), so it is paid once.
 */
async function applyFloors(trx: Trx, runId: number, currency: string, start: Date, end: Date): Promise<FloorSummary> {
  const workers = await workersInPeriod(trx, currency, start, end, { earnings: 'floored' });
  const policies = await trx.selectFrom('floor_policies').select(['client_id', 'mode', 'funded_by']).execute();
  const platformPolicy = policies.find((p) => p.client_id === null) ?? { mode: 'report' as const, funded_by: 'platform' as const };
  const policyOf = (clientId: string) => policies.find((p) => p.client_id === clientId) ?? platformPolicy;
  const summary = { workers_under_floor: 0, topped_up: 0, topup_total: 0n, unfunded_shortfall: 0n, workers_without_floor: 0 };
  for (const w of workers) {
    if (w.hoursMs <= 0n) continue;
    if (w.floorHourly === null) {
      summary.workers_without_floor += 1;
      continue;
    }
    const gap = shortfall(w.floorHourly, w.hoursMs, w.earnings);
    if (gap === 0n) continue;
    summary.workers_under_floor += 1;
    const clients = [...w.hoursMsByClient.entries()].filter(([, ms]) => ms > 0n).sort(([a], [b]) => (a < b ? -1 : 1));
    const shares = allocate(gap, clients.map(([, ms]) => ms));
    const legs: Leg[] = [];
    const funded: Record<string, string> = {};
    let paid = 0n;
    for (const [i, [clientId]] of clients.entries()) {
      const share = shares[i]!;
      const policy = policyOf(clientId);
      if (share === 0n) continue;
      if (policy.mode !== 'top_up') {
        summary.unfunded_shortfall += share;
        continue;
      }
      const funder =
        policy.funded_by === 'client'
          ? await accountId(trx, 'client', clientId, 'client_receivable', currency)
          : await accountId(trx, 'platform', null, 'floor_topup_funding', currency);
      legs.push({ accountId: funder, amount: share });
      funded[clientId] = share.toString();
      paid += share;
    }
    if (paid === 0n) continue;
    legs.push({ accountId: await accountId(trx, 'worker', w.workerId, 'worker_payable', currency), amount: -paid });
    await postTransaction(trx, {
      key: `payrun:${runId}:topup:${w.workerId}`,
      kind: 'floor_topup',
      currency,
      effectiveAt: start,
      legs,
      workerId: w.workerId,
      vendorId: w.vendorId,
      payRunId: runId,
      memo: 'pay floor top-up',
      details: { hours_ms: w.hoursMs.toString(), earnings: w.earnings.toString(), floor_hourly: w.floorHourly.toString(), shortfall: gap.toString(), funded },
    });
    summary.topped_up += 1;
    summary.topup_total += paid;
  }
  return { ...summary, topup_total: summary.topup_total.toString(), unfunded_shortfall: summary.unfunded_shortfall.toString() };
}

/**
 * One statement per payable account whose unpaid balance up to the cut (plus top-up) reaches the
 * minimum. Read from the accounts, not summed from postings: an account's statement_balance is the
 * sum of its postings no pay run made; less those after the cut (posted after the period's end), it
 * is everything up to the cut, and less what the account's earlier statements covered (their ranges
 * run from the first posting to the last statement's end without a gap) it is the range
 * (after, cut] this statement covers. Reconciliation checks each statement against its postings.
 */
async function writeStatements(trx: Trx, runId: number, currency: string, through: number, minimumPayout: number): Promise<void> {
  await sql`
    WITH covered AS (
      SELECT account_id, max(through_transaction_id) AS after, sum(earnings) AS earnings FROM statements WHERE currency = ${currency} GROUP BY account_id
    ),
    after_cut AS (
      SELECT p.account_id, sum(p.amount) AS amount FROM ledger_postings p
      WHERE p.transaction_id > ${through}::bigint AND p.pay_run_id IS NULL AND p.currency = ${currency}
      GROUP BY p.account_id
    ),
    payable AS (
      SELECT a.id, a.owner_type, a.owner_id, coalesce(c.after, 0) AS after,
        CASE WHEN coalesce(c.after, 0) >= ${through}::bigint THEN 0
             ELSE -(a.statement_balance - coalesce(x.amount, 0)) - coalesce(c.earnings, 0) END AS earnings
      FROM ledger_accounts a
      LEFT JOIN covered c ON c.account_id = a.id
      LEFT JOIN after_cut x ON x.account_id = a.id
      WHERE a.purpose IN ('worker_payable', 'vendor_payable') AND a.currency = ${currency}
    ),
    topped AS (
      SELECT p.account_id, -sum(p.amount) AS topup
      FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
      WHERE t.pay_run_id = ${runId} AND t.kind = 'floor_topup' AND p.amount < 0
      GROUP BY p.account_id
    )
    INSERT INTO statements (pay_run_id, account_id, payee_type, worker_id, vendor_id, currency, after_transaction_id, through_transaction_id, earnings, topup, total)
    SELECT ${runId}, y.id, y.owner_type, CASE WHEN y.owner_type = 'worker' THEN y.owner_id END,
      CASE WHEN y.owner_type = 'worker' THEN w.vendor_id ELSE y.owner_id END,
      ${currency}, y.after, greatest(y.after, ${through}::bigint), y.earnings, coalesce(t.topup, 0), y.earnings + coalesce(t.topup, 0)
    FROM payable y
    LEFT JOIN topped t ON t.account_id = y.id
    LEFT JOIN workers w ON y.owner_type = 'worker' AND w.id = y.owner_id
    WHERE y.earnings + coalesce(t.topup, 0) >= greatest(${minimumPayout}::bigint, 1)
  `.execute(trx);
}

const runColumns = ['id', 'currency', 'period_start', 'period_end', 'status', 'minimum_payout', 'through_transaction_id', 'floor_summary', 'created_at', 'approved_at', 'paid_at'] as const;

async function runTotals(db: Db | Trx, ids: number[]) {
  if (ids.length === 0) return new Map<number, { statements: number; paid: number; worker: string; vendor: string; total: string }>();
  const rows = await sql<{ pay_run_id: number; statements: number; paid: number; worker: string; vendor: string; total: string }>`
    SELECT pay_run_id, count(*)::int AS statements, count(*) FILTER (WHERE status = 'paid')::int AS paid,
      coalesce(sum(total) FILTER (WHERE payee_type = 'worker'), 0)::text AS worker,
      coalesce(sum(total) FILTER (WHERE payee_type = 'vendor'), 0)::text AS vendor,
      coalesce(sum(total), 0)::text AS total
    FROM statements WHERE pay_run_id = ANY (${ids}::bigint[]) GROUP BY pay_run_id
  `.execute(db);
  return new Map(rows.rows.map((r) => [r.pay_run_id, r]));
}

type RunRow = { id: number; currency: string; period_start: Date; period_end: Date; status: 'draft' | 'approved' | 'paid'; minimum_payout: number; through_transaction_id: number; floor_summary: Record<string, unknown>; created_at: Date; approved_at: Date | null; paid_at: Date | null };

function toPayRun(r: RunRow, t: { statements: number; paid: number; worker: string; vendor: string; total: string } | undefined, withFloors: boolean) {
  const f = r.floor_summary as Partial<FloorSummary>;
  return {
    id: r.id,
    currency: r.currency,
    period_start: r.period_start,
    period_end: r.period_end,
    status: r.status,
    minimum_payout: money(r.minimum_payout),
    through_transaction_id: r.through_transaction_id,
    statements: t?.statements ?? 0,
    worker_total: money(t?.worker ?? '0'),
    vendor_total: money(t?.vendor ?? '0'),
    total: money(t?.total ?? '0'),
    paid_statements: t?.paid ?? 0,
    floors: withFloors
      ? {
          workers_under_floor: f.workers_under_floor ?? 0,
          topped_up: f.topped_up ?? 0,
          topup_total: money(f.topup_total ?? '0'),
          unfunded_shortfall: money(f.unfunded_shortfall ?? '0'),
          workers_without_floor: f.workers_without_floor ?? 0,
        }
      : null,
    created_at: r.created_at,
    approved_at: r.approved_at,
    paid_at: r.paid_at,
  };
}

export async function getPayRun(db: Db | Trx, id: number) {
  const run = await db.selectFrom('pay_runs').select(runColumns).where('id', '=', id).executeTakeFirst();
  if (!run) throw notFound('pay run');
  return toPayRun(run, (await runTotals(db, [id])).get(id), true);
}

export async function listPayRuns(db: Db, q: { cursor?: string | undefined; limit: number; status?: string | undefined; currency?: string | undefined }) {
  let query = db.selectFrom('pay_runs').select(runColumns).orderBy('id', 'desc').limit(q.limit + 1);
  if (q.status) query = query.where('status', '=', q.status as RunRow['status']);
  if (q.currency) query = query.where('currency', '=', q.currency);
  if (q.cursor) query = query.where('id', '<', decodeCursor(q.cursor, ['int'])[0]);
  const rows = await query.execute();
  const page = pageResult(rows, q.limit, (r) => [r.id]);
  const totals = await runTotals(db, page.data.map((r) => r.id));
  return { data: page.data.map((r) => toPayRun(r, totals.get(r.id), false)), next_cursor: page.next_cursor };
}

/**
 * draft -> approved, refused (409 `reconciliation_discrepancies`, with them) while reconciliation of
 * the run's currency up to its period's end finds any discrepancy: nobody approves money the ledger
 * cannot account for.
 */
export async function approvePayRun(db: Db, caller: AuthContext, id: number, now: Date) {
  const run = await db.selectFrom('pay_runs').select(['id', 'status', 'currency', 'period_end']).where('id', '=', id).executeTakeFirst();
  if (!run) throw notFound('pay run');
  if (run.status !== 'draft') throw conflict('invalid_transition', `cannot approve a pay run that is ${run.status}`, [{ path: 'status', message: run.status }]);
  const report = await reconcile(db, { to: run.period_end, currency: run.currency }, now);
  if (!report.ok) {
    throw conflict(
      'reconciliation_discrepancies',
      `reconciliation of ${run.currency} up to ${run.period_end.toISOString()} found ${report.discrepancy_count} discrepancies; approve once they are resolved`,
      report.discrepancies.slice(0, 50).map((d) => ({ ...d, path: d.code })),
    );
  }
  await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('pay_runs')
      .set({ status: 'approved', approved_at: now, approved_by_key_id: caller.keyId })
      .where('id', '=', id)
      .where('status', '=', 'draft')
      .returning('id')
      .executeTakeFirst();
    if (!updated) throw conflict('invalid_transition', 'the pay run changed meanwhile; read it again');
    await writeAudit(trx, caller, { action: 'pay_run.approved', resourceType: 'pay_run', resourceId: String(id) });
  });
  return getPayRun(db, id);
}

/**
 * Records payouts made by the payment provider, one external reference per statement: each posts the
 * payout (the payee's payable is debited by the statement's total, the platform's payouts clearing
 * credited), keyed `statement:<id>:payout`, and marks the statement paid; the run is paid when all its
 * statements are. The same reference again is a no-op; another reference for a paid statement is a 409.
 */
export async function recordPayouts(db: Db, caller: AuthContext, id: number, payouts: { statement_id: number; reference: string }[], now: Date, metrics?: LedgerMetrics) {
  const posted = await db.transaction().execute(async (trx) => {
    const mark = await lockLedger(trx);
    const run = await trx.selectFrom('pay_runs').select(['id', 'status', 'currency']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!run) throw notFound('pay run');
    if (run.status === 'draft') throw conflict('invalid_transition', 'approve the pay run before recording payouts', [{ path: 'status', message: run.status }]);
    const seen = new Set<number>();
    for (const [i, p] of payouts.entries()) {
      if (seen.has(p.statement_id)) throw unprocessable('duplicate_statement', `statement ${p.statement_id} is listed twice`, [{ path: `body.payouts.${i}.statement_id`, message: 'listed twice' }]);
      seen.add(p.statement_id);
      const st = await trx
        .selectFrom('statements')
        .select(['id', 'account_id', 'total', 'status', 'payout_reference', 'worker_id', 'vendor_id'])
        .where('id', '=', p.statement_id)
        .where('pay_run_id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!st) throw unprocessable('unknown_statement', `statement ${p.statement_id} is not in pay run ${id}`, [{ path: `body.payouts.${i}.statement_id`, message: 'not in this run' }]);
      if (st.status === 'paid') {
        if (st.payout_reference === p.reference) continue;
        throw conflict('already_paid', `statement ${st.id} was paid with reference ${st.payout_reference}`, [{ path: `body.payouts.${i}.reference`, message: 'already paid' }]);
      }
      const clearing = await accountId(trx, 'platform', null, 'payouts_clearing', run.currency);
      const tx = await postTransaction(trx, {
        key: `statement:${st.id}:payout`,
        kind: 'payout',
        currency: run.currency,
        effectiveAt: now,
        legs: [
          { accountId: st.account_id, amount: big(st.total) },
          { accountId: clearing, amount: -big(st.total) },
        ],
        workerId: st.worker_id,
        vendorId: st.vendor_id,
        payRunId: id,
        memo: `payout ${p.reference}`,
        details: { statement_id: st.id, reference: p.reference },
        actorKeyId: caller.keyId,
      });
      await trx.updateTable('statements').set({ status: 'paid', payout_reference: p.reference, paid_at: now, payout_transaction_id: tx.id }).where('id', '=', st.id).execute();
    }
    const left = await trx.selectFrom('statements').select((eb) => eb.fn.countAll<number>().as('n')).where('pay_run_id', '=', id).where('status', '=', 'unpaid').executeTakeFirstOrThrow();
    if (Number(left.n) === 0 && run.status === 'approved') {
      await trx.updateTable('pay_runs').set({ status: 'paid', paid_at: now }).where('id', '=', id).execute();
    }
    await writeAudit(trx, caller, { action: 'pay_run.payouts_recorded', resourceType: 'pay_run', resourceId: String(id), details: { payouts } });
    return postedSince(trx, mark);
  });
  countPosted(metrics, posted);
  return getPayRun(db, id);
}
