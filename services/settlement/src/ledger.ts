import { sql, type Database, type LedgerOwnerType, type LedgerPurpose, type LedgerTransactionKind } from '@fairlabel/db';
import type { Transaction } from 'kysely';
import { conflict } from '@fairlabel/http';
import type { Metrics } from '@fairlabel/observability';

export type Trx = Transaction<Database>;

/**
 * Takes the ledger lock for the rest of the transaction (packages/db/sql/st_ledger_lock.sql): ledger
 * writers take turns, so a pay run or invoice can cut the ledger at a time by one transaction id.
 */
export async function lockLedger(trx: Trx): Promise<LedgerMark> {
  await sql`SELECT st_ledger_lock()`.execute(trx);
  // Read under the lock: every transaction this writer posts gets a larger id.
  const r = await sql<{ last: string }>`SELECT coalesce(max(id), 0)::text AS last FROM ledger_transactions`.execute(trx);
  return { after: Number(r.rows[0]!.last) };
}

/** The last ledger transaction id when a writer took the ledger lock: what it posts comes after. */
export interface LedgerMark {
  after: number;
}

/** Ledger transactions and their postings, per kind, that one writer posted. */
export interface Posted {
  kind: string;
  transactions: number;
  postings: number;
}

/** What the writer holding the lock posted since `mark` (packages/db/sql/st_posted_since.sql). */
export async function postedSince(trx: Trx, mark: LedgerMark): Promise<Posted[]> {
  const r = await sql<Posted>`SELECT kind, transactions, postings FROM st_posted_since(${mark.after})`.execute(trx);
  return r.rows;
}

export type LedgerMetrics = Pick<Metrics, 'ledgerTransactions' | 'ledgerPostings'>;

/**
 * Counts committed postings in `fairlabel_ledger_transactions_total` / `fairlabel_ledger_postings_total`
 * (by kind). Called after the commit, so a rolled-back batch counts nothing.
 */
export function countPosted(metrics: LedgerMetrics | undefined, posted: Posted[]): void {
  if (!metrics) return;
  for (const p of posted) {
    metrics.ledgerTransactions.inc({ kind: p.kind }, p.transactions);
    metrics.ledgerPostings.inc({ kind: p.kind }, p.postings);
  }
}

/** The account of an owner for a purpose and currency, created on first use. */
export async function accountId(trx: Trx, ownerType: LedgerOwnerType, ownerId: string | null, purpose: LedgerPurpose, currency: string): Promise<number> {
  await trx
    .insertInto('ledger_accounts')
    .values({ owner_type: ownerType, owner_id: ownerId, purpose, currency })
    .onConflict((oc) => oc.doNothing())
    .execute();
  const row = await trx
    .selectFrom('ledger_accounts')
    .select('id')
    .where('owner_type', '=', ownerType)
    .where((eb) => (ownerId === null ? eb('owner_id', 'is', null) : eb('owner_id', '=', ownerId)))
    .where('purpose', '=', purpose)
    .where('currency', '=', currency)
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface Leg {
  accountId: number;
  /** Debit-positive minor units; never 0. */
  amount: bigint;
}

export interface NewTransaction {
  key: string;
  kind: LedgerTransactionKind;
  currency: string;
  effectiveAt: Date;
  legs: Leg[];
  jobId?: string | null;
  assignmentId?: number | null;
  workerId?: string | null;
  vendorId?: string | null;
  clientId?: string | null;
  payRunId?: number | null;
  reversesId?: number | null;
  memo?: string;
  details?: Record<string, unknown>;
  actorKeyId?: string | null;
}

/**
 * Posts one balanced transaction under its business key, in the caller's transaction (which holds the
 * ledger lock). A key already taken posts nothing and returns the existing transaction's id with
 * `created: false`, so a replayed request or a redelivered event has no second effect. The database
 * refuses an unbalanced set of legs at commit (st_transaction_balanced); this checks first to fail early.
 */
export async function postTransaction(trx: Trx, tx: NewTransaction): Promise<{ id: number; created: boolean }> {
  const legs = tx.legs.filter((l) => l.amount !== 0n);
  let total = 0n;
  for (const l of legs) total += l.amount;
  if (legs.length < 2 || total !== 0n) throw new Error(`ledger transaction ${tx.key} does not balance (${legs.length} legs, sum ${total})`);
  const inserted = await trx
    .insertInto('ledger_transactions')
    .values({
      key: tx.key,
      kind: tx.kind,
      currency: tx.currency,
      effective_at: tx.effectiveAt,
      job_id: tx.jobId ?? null,
      assignment_id: tx.assignmentId ?? null,
      worker_id: tx.workerId ?? null,
      vendor_id: tx.vendorId ?? null,
      client_id: tx.clientId ?? null,
      pay_run_id: tx.payRunId ?? null,
      reverses_id: tx.reversesId ?? null,
      memo: tx.memo ?? '',
      details: JSON.stringify(tx.details ?? {}),
      actor_key_id: tx.actorKeyId ?? null,
    })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const existing = await trx.selectFrom('ledger_transactions').select('id').where('key', '=', tx.key).executeTakeFirstOrThrow();
    return { id: existing.id, created: false };
  }
  await trx
    .insertInto('ledger_postings')
    .values(
      legs.map((l, i) => ({
        transaction_id: inserted.id,
        leg: i + 1,
        account_id: l.accountId,
        currency: tx.currency,
        // Bounded by the ledger's CHECK (|amount| <= ST_MAX_AMOUNT < 2^53), so exact as a number.
        amount: Number(l.amount),
        pay_run_id: tx.payRunId ?? null,
      })),
    )
    .execute();
  return { id: inserted.id, created: true };
}

/** Maps a constraint violation of the ledger (a refused posting) to a 409 instead of a 500. */
export function ledgerConflict(err: unknown): never {
  const e = err as { code?: string; message?: string };
  if (e.code === '23514' || e.code === '23503' || e.code === '23P01') throw conflict('ledger_refused', e.message ?? 'the ledger refused the posting');
  throw err;
}
