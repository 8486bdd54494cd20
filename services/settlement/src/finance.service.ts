import { sql, type Db, type LedgerOwnerType, type LedgerPurpose } from '@fairlabel/db';
import { conflict, decodeCursor, notFound, pageResult, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';
import { accountId, countPosted, lockLedger, postedSince, postTransaction, type LedgerMetrics, type Trx } from './ledger.js';
import { big, money } from './money.js';

// The ledger as finance sees it: accounts and their balances, transactions with their postings,
// adjustments and reversals (both audit-logged with who made them), rates.

const purposeOf: Record<'worker' | 'vendor' | 'client', LedgerPurpose> = { worker: 'worker_payable', vendor: 'vendor_payable', client: 'client_receivable' };

/** The owner must exist as what it claims to be: a worker, or a vendor or client organization. */
async function checkOwner(db: Db | Trx, ownerType: 'worker' | 'vendor' | 'client', ownerId: string): Promise<void> {
  const exists =
    ownerType === 'worker'
      ? await db.selectFrom('workers').select('id').where('id', '=', ownerId).executeTakeFirst()
      : await db.selectFrom('organizations').select('id').where('id', '=', ownerId).where('kind', '=', ownerType).executeTakeFirst();
  if (!exists) throw unprocessable('unknown_account_owner', `no ${ownerType} ${ownerId}`, [{ path: 'body.account.owner_id', message: `not a ${ownerType}` }]);
}

function toAccount(a: { id: number; owner_type: LedgerOwnerType; owner_id: string | null; purpose: LedgerPurpose; currency: string; balance: string }) {
  const balance = big(a.balance);
  // Liabilities and revenue are credit-normal: their holder-side balance is the negated debit balance.
  const creditNormal = ['worker_payable', 'vendor_payable', 'platform_revenue', 'payouts_clearing'].includes(a.purpose);
  return { ...a, balance: money(balance), holder_balance: money(creditNormal ? -balance : balance) };
}

export async function listAccounts(db: Db, q: { cursor?: string | undefined; limit: number; owner_type?: LedgerOwnerType | undefined; owner_id?: string | undefined; purpose?: LedgerPurpose | undefined; currency?: string | undefined }) {
  let query = db
    .selectFrom('ledger_accounts')
    .select(['id', 'owner_type', 'owner_id', 'purpose', 'currency', sql<string>`balance::text`.as('balance')])
    .orderBy('id')
    .limit(q.limit + 1);
  if (q.owner_type) query = query.where('owner_type', '=', q.owner_type);
  if (q.owner_id) query = query.where('owner_id', '=', q.owner_id);
  if (q.purpose) query = query.where('purpose', '=', q.purpose);
  if (q.currency) query = query.where('currency', '=', q.currency);
  if (q.cursor) query = query.where('id', '>', decodeCursor(q.cursor, ['int'])[0]);
  const page = pageResult(await query.execute(), q.limit, (r) => [r.id]);
  return { data: page.data.map(toAccount), next_cursor: page.next_cursor };
}

const txColumns = ['id', 'key', 'kind', 'currency', 'effective_at', 'posted_at', 'job_id', 'assignment_id', 'worker_id', 'vendor_id', 'client_id', 'pay_run_id', 'reverses_id', 'memo'] as const;

async function withPostings<T extends { id: number }>(db: Db | Trx, txs: T[]) {
  if (txs.length === 0) return [];
  const postings = await db
    .selectFrom('ledger_postings as p')
    .innerJoin('ledger_accounts as a', 'a.id', 'p.account_id')
    .select(['p.transaction_id', 'p.leg', 'p.account_id', 'a.owner_type', 'a.owner_id', 'a.purpose', sql<string>`p.amount::text`.as('amount')])
    .where('p.transaction_id', 'in', txs.map((t) => t.id))
    .orderBy('p.transaction_id')
    .orderBy('p.leg')
    .execute();
  return txs.map((t) => ({
    ...t,
    postings: postings.filter((p) => p.transaction_id === t.id).map(({ transaction_id: _t, ...p }) => p),
  }));
}

export async function listTransactions(db: Db, q: { cursor?: string | undefined; limit: number; kind?: string | undefined; account_id?: number | undefined; assignment_id?: number | undefined; job_id?: string | undefined }) {
  let query = db.selectFrom('ledger_transactions').select(txColumns).orderBy('id', 'desc').limit(q.limit + 1);
  if (q.kind) query = query.where('kind', '=', q.kind as never);
  if (q.assignment_id) query = query.where('assignment_id', '=', q.assignment_id);
  if (q.job_id) query = query.where('job_id', '=', q.job_id);
  if (q.account_id) {
    const accountIdFilter = q.account_id;
    query = query.where('id', 'in', (eb) => eb.selectFrom('ledger_postings').select('transaction_id').where('account_id', '=', accountIdFilter));
  }
  if (q.cursor) query = query.where('id', '<', decodeCursor(q.cursor, ['int'])[0]);
  const page = pageResult(await query.execute(), q.limit, (r) => [r.id]);
  return { data: await withPostings(db, page.data), next_cursor: page.next_cursor };
}

export async function getTransaction(db: Db | Trx, id: number) {
  const tx = await db.selectFrom('ledger_transactions').select(txColumns).where('id', '=', id).executeTakeFirst();
  if (!tx) throw notFound('transaction');
  return (await withPostings(db, [tx]))[0]!;
}

/**
 * A manual adjustment (bonus, deduction, credit note) to a worker's or vendor's payable or a client's
 * receivable, against the platform's adjustments account, keyed by the request (Idempotency-Key or a
 * generated key), with who made it in the transaction and in the audit log.
 */
export async function createAdjustment(
  db: Db,
  caller: AuthContext,
  body: { account: { owner_type: 'worker' | 'vendor' | 'client'; owner_id: string }; currency: string; amount: number; reason: string },
  requestKey: string,
  now: Date,
  metrics?: LedgerMetrics,
) {
  const { id, posted } = await db.transaction().execute(async (trx) => {
    await checkOwner(trx, body.account.owner_type, body.account.owner_id);
    const mark = await lockLedger(trx);
    const target = await accountId(trx, body.account.owner_type, body.account.owner_id, purposeOf[body.account.owner_type], body.currency);
    const platform = await accountId(trx, 'platform', null, 'adjustments', body.currency);
    const amount = big(body.amount);
    // In the holder's favour: a payable is credited (negative), a receivable debited less (negative).
    const onTarget = -amount;
    const tx = await postTransaction(trx, {
      key: `adjustment:${requestKey}`,
      kind: 'adjustment',
      currency: body.currency,
      effectiveAt: now,
      legs: [
        { accountId: target, amount: onTarget },
        { accountId: platform, amount: -onTarget },
      ],
      workerId: body.account.owner_type === 'worker' ? body.account.owner_id : null,
      vendorId: body.account.owner_type === 'vendor' ? body.account.owner_id : null,
      clientId: body.account.owner_type === 'client' ? body.account.owner_id : null,
      memo: body.reason,
      details: { amount: amount.toString(), account: body.account },
      actorKeyId: caller.keyId,
    });
    if (tx.created) {
      await writeAudit(trx, caller, {
        action: 'ledger.adjustment',
        resourceType: 'ledger_transaction',
        resourceId: String(tx.id),
        details: { account: body.account, currency: body.currency, amount: amount.toString(), reason: body.reason },
      });
    }
    return { id: tx.id, posted: await postedSince(trx, mark) };
  });
  countPosted(metrics, posted);
  return getTransaction(db, id);
}

/** Kinds whose corrections come only from QA decisions (a new decision), never from a manual reversal. */
const DECISION_KINDS = new Set(['earning', 'rejected_pay', 'earning_correction']);

/**
 * Reverses a transaction with a mirror one (every leg negated), never by changing it: at most once
 * (the database holds reverses_id unique). Pay for decided work is corrected by QA's decisions (an
 * appeal, a superseding decision), and payouts and top-ups belong to pay runs, so those are refused.
 */
export async function reverseTransaction(db: Db, caller: AuthContext, id: number, reason: string, now: Date, metrics?: LedgerMetrics) {
  const { newId, posted } = await db.transaction().execute(async (trx) => {
    const mark = await lockLedger(trx);
    const tx = await trx.selectFrom('ledger_transactions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!tx) throw notFound('transaction');
    if (DECISION_KINDS.has(tx.kind)) {
      throw unprocessable('reverse_by_decision', `a ${tx.kind} follows QA's decisions: a superseding decision corrects it, not a manual reversal`);
    }
    if (tx.kind === 'payout' || tx.kind === 'floor_topup' || tx.kind === 'reversal') {
      throw unprocessable('not_reversible', `a ${tx.kind} cannot be reversed by hand`);
    }
    const already = await trx.selectFrom('ledger_transactions').select('id').where('reverses_id', '=', id).executeTakeFirst();
    if (already) throw conflict('already_reversed', `transaction ${id} was reversed by ${already.id}`, [{ path: 'params.id', message: `reversed by ${already.id}` }]);
    const legs = await trx.selectFrom('ledger_postings').select(['account_id', sql<string>`amount::text`.as('amount')]).where('transaction_id', '=', id).orderBy('leg').execute();
    const posted = await postTransaction(trx, {
      key: `${tx.key}:reversal`,
      kind: 'reversal',
      currency: tx.currency,
      effectiveAt: now,
      legs: legs.map((l) => ({ accountId: l.account_id, amount: -big(l.amount) })),
      jobId: tx.job_id,
      workerId: tx.worker_id,
      vendorId: tx.vendor_id,
      clientId: tx.client_id,
      reversesId: tx.id,
      memo: reason,
      details: { reversed_kind: tx.kind },
      actorKeyId: caller.keyId,
    });
    await writeAudit(trx, caller, { action: 'ledger.reversal', resourceType: 'ledger_transaction', resourceId: String(posted.id), details: { reverses: id, reason } });
    return { newId: posted.id, posted: await postedSince(trx, mark) };
  });
  countPosted(metrics, posted);
  return getTransaction(db, newId);
}

// ---- rates ----

export async function listLevelMultipliers(db: Db) {
  return db.selectFrom('level_multipliers').select(['level', 'effective_from', 'multiplier_bp']).orderBy('level').orderBy('effective_from').execute();
}

function notInPast(at: Date, now: Date, path: string) {
  // A minute of slack for clocks; earlier would re-price work already decided.
  if (at.getTime() < now.getTime() - 60_000) {
    throw unprocessable('effective_in_past', 'rates take effect from now or later: work already decided keeps the rate it was decided under', [{ path, message: 'in the past' }]);
  }
}

export async function setLevelMultipliers(db: Db, caller: AuthContext, body: { effective_from: string; multipliers: { level: number; multiplier_bp: number }[] }, now: Date) {
  const at = new Date(body.effective_from);
  notInPast(at, now, 'body.effective_from');
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('level_multipliers')
      .values(body.multipliers.map((m) => ({ level: m.level, effective_from: at, multiplier_bp: m.multiplier_bp, created_by_key_id: caller.keyId })))
      .onConflict((oc) => oc.columns(['level', 'effective_from']).doUpdateSet((eb) => ({ multiplier_bp: eb.ref('excluded.multiplier_bp'), created_by_key_id: caller.keyId })))
      .execute();
    await writeAudit(trx, caller, { action: 'rates.level_multipliers', resourceType: 'level_multipliers', resourceId: body.effective_from, details: body });
  });
  return listLevelMultipliers(db);
}

export async function listVendorContracts(db: Db, vendorId: string) {
  return db.selectFrom('vendor_contracts').select(['vendor_id', 'effective_from', 'commission_bp']).where('vendor_id', '=', vendorId).orderBy('effective_from').execute();
}

export async function setVendorContract(db: Db, caller: AuthContext, vendorId: string, body: { effective_from: string; commission_bp: number }, now: Date) {
  const at = new Date(body.effective_from);
  notInPast(at, now, 'body.effective_from');
  const vendor = await db.selectFrom('organizations').select('id').where('id', '=', vendorId).where('kind', '=', 'vendor').executeTakeFirst();
  if (!vendor) throw notFound('vendor');
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('vendor_contracts')
      .values({ vendor_id: vendorId, effective_from: at, commission_bp: body.commission_bp, created_by_key_id: caller.keyId })
      .onConflict((oc) => oc.columns(['vendor_id', 'effective_from']).doUpdateSet({ commission_bp: body.commission_bp, created_by_key_id: caller.keyId }))
      .execute();
    await writeAudit(trx, caller, { action: 'rates.vendor_contract', resourceType: 'vendor', resourceId: vendorId, details: body });
  });
  return listVendorContracts(db, vendorId);
}
