import { expect } from 'vitest';
import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import type { Actor, Seed, WorkerActor } from '@fairlabel/testing';
import { postSettlementEvents, type SettlementEvent } from '../src/settlement.consumer.js';

/** A client, a vendor with workers, one job (USD unless given) and answered assignments to decide, made by `seed`. */
export async function world(seed: Seed, opts: { workers?: number; tasks?: number; pay?: number; price?: number; currency?: string; payPolicy?: Record<string, unknown> } = {}) {
  const client = await seed.client();
  const vendor = await seed.vendor();
  const workers: WorkerActor[] = [];
  for (let i = 0; i < (opts.workers ?? 2); i++) workers.push(await seed.worker(vendor));
  const job = await seed.job(client, {
    pay_per_annotation: opts.pay ?? 100,
    client_price_per_item: opts.price ?? 500,
    currency: opts.currency ?? 'USD',
    overlap: workers.length,
    pay_policy: JSON.stringify(opts.payPolicy ?? {}),
  });
  const tasks = await seed.tasks(job.id, opts.tasks ?? 3);
  const assignments = [];
  for (const w of workers) assignments.push(...(await seed.answers(tasks, w, { status: 'submitted' })));
  return { client, vendor, workers, job, tasks, assignments };
}

export type World = Awaited<ReturnType<typeof world>>;

let nextDecision = 1;
/** A unique decision id per test file process. */
export const decisionId = () => nextDecision++;

export function decided(
  a: { id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string },
  clientId: string,
  outcome: 'accepted' | 'rejected',
  extra: Partial<EventPayload<'assignment.decided'>> = {},
): EventPayload<'assignment.decided'> {
  return {
    decision_id: decisionId(),
    assignment_id: a.id,
    task_id: a.task_id,
    job_id: a.job_id,
    client_id: clientId,
    worker_id: a.worker_id,
    vendor_id: a.vendor_id,
    outcome,
    kind: 'annotation',
    worker_level: 1,
    supersedes_decision_id: null,
    decided_at: new Date().toISOString(),
    ...extra,
  };
}

export async function post(db: Db, ...events: SettlementEvent[]): Promise<void> {
  await postSettlementEvents(db, events);
}
export const asDecision = (payload: EventPayload<'assignment.decided'>): SettlementEvent => ({ event: 'assignment.decided', payload });

/**
 * A moment after everything recorded so far, to end a period with. A pay run covers the transactions
 * posted before its period's end and reconciliation the decisions made before its `to`, both to the
 * millisecond; `new Date()` read right after a write can fall in that write's own millisecond, which is
 * not after it, so a run made at once missed the posting (pay-runs' `statements: 2` flake). Waits, when
 * need be, for the clock to leave the millisecond of the last posting or decision.
 */
export async function afterLastWrite(db: Db): Promise<Date> {
  const r = await sql<{ last: Date | null }>`
    SELECT greatest((SELECT max(posted_at) FROM ledger_transactions), (SELECT max(decided_at) FROM settlement_decisions),
                    (SELECT max(decided_at) FROM assignments)) AS last
  `.execute(db);
  const last = r.rows[0]?.last?.getTime() ?? 0;
  await expect.poll(() => Date.now(), { interval: 1 }).toBeGreaterThan(last);
  return new Date();
}

/** What each worker is owed (holder-side) per the ledger. */
export async function owed(db: Db, ownerId: string, purpose = 'worker_payable'): Promise<bigint> {
  const r = await sql<{ b: string | null }>`SELECT (-sum(balance))::text AS b FROM ledger_accounts WHERE owner_id = ${ownerId} AND purpose = ${purpose}`.execute(db);
  return BigInt(r.rows[0]?.b ?? '0');
}

export async function transactionsOf(db: Db, assignmentId: number) {
  return db.selectFrom('ledger_transactions').select(['key', 'kind']).where('assignment_id', '=', assignmentId).orderBy('id').execute();
}

/** Every ledger transaction balanced and every kept balance (balance, statement_balance) equal to its postings (checked in SQL). */
export async function ledgerIsConsistent(db: Db): Promise<{ unbalanced: number; drifted: number; total: string }> {
  const r = await sql<{ unbalanced: number; drifted: number; total: string }>`
    SELECT
      (SELECT count(*)::int FROM (SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id
                                 GROUP BY t.id HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.leg) < 2) x) AS unbalanced,
      (SELECT count(*)::int FROM ledger_accounts a
       WHERE a.balance <> coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0)
          OR a.statement_balance <> coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id AND p.pay_run_id IS NULL), 0)) AS drifted,
      (SELECT coalesce(sum(amount), 0)::text FROM ledger_postings) AS total
  `.execute(db);
  return r.rows[0]!;
}

export type { Actor };

/**
 * Rows in which settlement_work_hours and a recomputation from the source rows (st_work_hours_source)
 * differ, both ways (of one currency when given); rows whose work moved elsewhere (pieces 0, ms 0) are none.
 */
export async function workHoursDrift(db: Db, currency: string | null = null): Promise<number> {
  const r = await sql<{ n: number }>`
    WITH kept AS (SELECT currency, hour, worker_id, client_id, ms, pieces FROM settlement_work_hours
                  WHERE (pieces <> 0 OR ms <> 0) AND (${currency}::text IS NULL OR currency = ${currency})),
    source AS (SELECT currency, hour, worker_id, client_id, ms, pieces::integer FROM st_work_hours_source('-infinity', 'infinity')
               WHERE ${currency}::text IS NULL OR currency = ${currency})
    SELECT ((SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM source) a) + (SELECT count(*) FROM (SELECT * FROM source EXCEPT SELECT * FROM kept) b))::int AS n
  `.execute(db);
  return r.rows[0]!.n;
}
