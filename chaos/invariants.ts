import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { queueNames } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { leaseExpiryScheduler, outboxJobId, OUTBOX_LISTENER_APPLICATION_NAME, WEBHOOK_DELIVERY_QUEUE } from '@fairlabel/queues';
import type { Submitted } from './workload.js';

// What must hold after a run, however it was disturbed. Each check says how many items it looked at
// and how many broke the rule; none of them repairs anything.

export interface InvariantResult {
  name: string;
  /** null: a hook whose owner has not landed yet (see `pending`). */
  ok: boolean | null;
  checked: number;
  violations: number;
  note?: string;
  examples?: string[];
}

export interface InvariantContext {
  db: Db;
  redisUrl: string;
  prefix: string;
  submitted: Submitted[];
  received: Map<string, number>;
}

type Check = (ctx: InvariantContext) => Promise<InvariantResult>;

const result = (name: string, checked: number, bad: string[], note?: string): InvariantResult => ({
  name,
  ok: bad.length === 0,
  checked,
  violations: bad.length,
  ...(note ? { note } : {}),
  ...(bad.length ? { examples: bad.slice(0, 5) } : {}),
});

const everySubmitStored: Check = async ({ db, submitted }) => {
  const rows = submitted.length
    ? await db
        .selectFrom('assignments')
        .select(['id', 'status', 'answer'])
        .where('id', 'in', submitted.map((s) => s.assignmentId))
        .execute()
    : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const bad = submitted
    .filter((s) => {
      const row = byId.get(s.assignmentId);
      return !row || !['submitted', 'accepted', 'rejected'].includes(row.status) || !isDeepStrictEqual(row.answer, s.answer);
    })
    .map((s) => `assignment ${s.assignmentId}: ${JSON.stringify(byId.get(s.assignmentId) ?? 'missing')}`);
  return result('every 2xx submit stored', submitted.length, bad);
};

const noTaskOverOverlap: Check = async ({ db }) => {
  const over = await sql<{ id: number; required: number; n: number }>`
    SELECT t.id, t.required_annotations AS required, count(a.id)::int AS n
    FROM tasks t JOIN assignments a ON a.task_id = t.id AND a.status IN ('leased', 'submitted', 'accepted', 'rejected')
    GROUP BY t.id HAVING count(a.id) > t.required_annotations`.execute(db);
  const tasks = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return result('no task over its overlap', Number(tasks.n), over.rows.map((r) => `task ${r.id}: ${r.n} of ${r.required}`));
};

const noWorkerTwice: Check = async ({ db }) => {
  const twice = await sql<{ task_id: number; worker_id: string; n: number }>`
    SELECT task_id, worker_id, count(*)::int AS n FROM assignments GROUP BY task_id, worker_id HAVING count(*) > 1`.execute(db);
  const all = await db.selectFrom('assignments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return result('no worker with an item twice', Number(all.n), twice.rows.map((r) => `task ${r.task_id} worker ${r.worker_id}: ${r.n}`));
};

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const everyOutboxRowQueuedOrConsumed: Check = async ({ db, redisUrl, prefix }) => {
  const rows = await db.selectFrom('outbox').select(['id', 'queue', 'batch_id', 'sent_at', 'consumed_at', 'discarded_at']).execute();
  const bad: string[] = [];
  await withRedis(redisUrl, async (r) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const p = r.pipeline();
      // A row travels in the batch job recorded with it, or (sent before batching) in its own job.
      for (const row of batch) p.exists(`${prefix}:${row.queue}:${row.batch_id ?? outboxJobId(row.id)}`);
      const replies = (await p.exec()) ?? [];
      batch.forEach((row, j) => {
        const queued = replies[j]?.[1] === 1;
        if (!row.sent_at) bad.push(`outbox ${row.id} (${row.queue}) never sent`);
        else if (!queued && !row.consumed_at && !row.discarded_at) bad.push(`outbox ${row.id} (${row.queue}) neither in Redis nor consumed`);
      });
    }
  });
  return result('every outbox row queued or consumed', rows.length, bad);
};

const noJobStuckActive: Check = async ({ redisUrl, prefix }) => {
  const queues = [...queueNames, WEBHOOK_DELIVERY_QUEUE, leaseExpiryScheduler.queue];
  const bad: string[] = [];
  let checked = 0;
  await withRedis(redisUrl, async (r) => {
    for (const q of queues) {
      const active = await r.llen(`${prefix}:${q}:active`);
      checked += active + (await r.zcard(`${prefix}:${q}:completed`));
      if (active > 0) bad.push(`${q}: ${active} active`);
    }
  });
  return result('no job stuck active', checked, bad);
};

const everyWebhookDelivered: Check = async ({ db, submitted, received }) => {
  const deliveries = await db.selectFrom('webhook_deliveries').select(['id', 'status', 'message_id', 'source_key']).execute();
  const bad: string[] = [];
  // Every submission the workers were told about became a delivery to their vendor...
  const sources = new Set(deliveries.map((d) => d.source_key));
  for (const s of submitted) if (!sources.has(`assignment.submitted:${s.assignmentId}`)) bad.push(`no delivery for assignment.submitted:${s.assignmentId}`);
  // ...and every delivery reached the receiver and is recorded as delivered.
  const known = new Set(deliveries.map((d) => d.message_id));
  for (const d of deliveries) {
    if (d.status !== 'succeeded') bad.push(`delivery ${d.source_key}: ${d.status}`);
    else if (!received.has(d.message_id)) bad.push(`delivery ${d.source_key} recorded but never received`);
  }
  for (const id of received.keys()) if (!known.has(id)) bad.push(`received unknown webhook-id ${id}`);
  const duplicates = [...received.values()].reduce((n, c) => n + (c - 1), 0);
  return result(
    'every webhook delivered once',
    deliveries.length,
    bad,
    `${duplicates} repeated receptions of a webhook-id (a process killed between the receiver's 2xx and the record; receivers deduplicate by webhook-id)`,
  );
};

/** Leases are expired by the scheduler within seconds of their deadline, also after Redis was flushed. */
const noLeasePastExpiry: Check = async ({ db }) => {
  const stale = await sql<{ id: number; late: number }>`
    SELECT id, extract(epoch FROM now() - lease_expires_at)::int AS late FROM assignments
    WHERE status = 'leased' AND lease_expires_at < now() - interval '15 seconds'`.execute(db);
  const expired = await db.selectFrom('assignments').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'expired').executeTakeFirstOrThrow();
  return result('no lease left past its expiry', Number(expired.n) + stale.rows.length, stale.rows.map((r) => `assignment ${r.id}: ${r.late} s past`), `${expired.n} leases expired by the scheduler`);
};

const relayListening: Check = async ({ db }) => {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${OUTBOX_LISTENER_APPLICATION_NAME}`.execute(db);
  const n = r.rows[0]?.n ?? 0;
  return result('the relay LISTENs again after the database restart', 1, n >= 1 ? [] : ['no LISTEN connection']);
};

// The invariants of QA and settlement (once hooks; a service that adds an invariant adds a Check of the same shape).

/**
 * qa-sampling: every (non-gold) task with its required annotations answered is decided exactly once —
 * one first decision in qa_task_decisions, and task-dispatch closed it with that result — and every
 * answer on a decided task is accepted or rejected (worker-assignment applied assignment.decided).
 */
export const everyTaskDecided: Check = async ({ db }) => {
  const rows = await sql<{ id: number; status: string; has_result: boolean; required: number; answered: number; undecided: number; decisions: number }>`
    SELECT t.id, t.status, t.result IS NOT NULL AS has_result, t.required_annotations AS required,
      count(a.id) FILTER (WHERE a.status IN ('submitted', 'accepted', 'rejected'))::int AS answered,
      count(a.id) FILTER (WHERE a.status = 'submitted')::int AS undecided,
      (SELECT count(*)::int FROM qa_task_decisions d WHERE d.task_id = t.id AND d.supersedes_decision_id IS NULL) AS decisions
    FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id
    WHERE t.gold IS NULL AND t.status <> 'cancelled'
    GROUP BY t.id`.execute(db);
  const bad = rows.rows
    .filter((r) => r.decisions > 1 || (r.answered >= r.required && (r.status !== 'decided' || !r.has_result || r.decisions !== 1)) || (r.status === 'decided' && r.undecided > 0))
    .map((r) => `task ${r.id}: ${r.status}, ${r.answered}/${r.required} answered, ${r.undecided} undecided answers, ${r.decisions} QA decisions${r.has_result ? '' : ', no result'}`);
  return result('every task decided', rows.rows.length, bad);
};
/**
 * settlement: each accepted assignment has at most one earning (`assignment:<id>:earning`, unique),
 * and what is posted for it equals what its current decision is worth (st_expected_pay, the rule the
 * consumer posts by): a lost event shows as nothing posted, a doubled one as twice the amount.
 * Assignments worker-assignment marked accepted but settlement holds no decision for are counted too.
 */
export const everyAcceptedPaidOnce: Check = async ({ db }) => {
  const rows = await sql<{ id: number; earnings: number; expected: string | null; posted: string }>`
    WITH accepted AS (SELECT id FROM assignments WHERE status = 'accepted'),
    expected AS (SELECT assignment_id, worker_amount + vendor_amount AS gross FROM st_expected_pay(ARRAY(SELECT id FROM accepted))),
    posted AS (
      SELECT t.assignment_id, count(DISTINCT t.id) FILTER (WHERE t.kind = 'earning')::int AS earnings,
        coalesce(sum(-p.amount) FILTER (WHERE a.purpose IN ('worker_payable', 'vendor_payable')), 0) AS gross
      FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id JOIN ledger_accounts a ON a.id = p.account_id
      WHERE t.assignment_id IN (SELECT id FROM accepted) AND t.kind IN ('earning', 'rejected_pay', 'earning_correction')
      GROUP BY t.assignment_id
    )
    SELECT x.id, coalesce(p.earnings, 0) AS earnings, e.gross::text AS expected, coalesce(p.gross, 0)::text AS posted
    FROM accepted x LEFT JOIN expected e ON e.assignment_id = x.id LEFT JOIN posted p ON p.assignment_id = x.id`.execute(db);
  const bad = rows.rows
    .filter((r) => r.expected === null || r.earnings > 1 || r.posted !== r.expected)
    .map((r) => `assignment ${r.id}: ${r.earnings} earnings, posted ${r.posted}, worth ${r.expected ?? 'no decision in settlement'}`);
  return result('every accepted assignment paid exactly once', rows.rows.length, bad);
};

/**
 * settlement: every ledger transaction has two or more postings summing to zero, each currency's
 * postings sum to zero, every account's kept balance equals its postings, and every statement's total
 * equals the postings of its range and its top-up.
 */
export const ledgerBalanced: Check = async ({ db }) => {
  const unbalanced = await sql<{ id: number; total: string; n: number }>`
    SELECT t.id, coalesce(sum(p.amount), 0)::text AS total, count(p.leg)::int AS n
    FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id
    GROUP BY t.id HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.leg) < 2`.execute(db);
  const currencies = await sql<{ currency: string; total: string }>`
    SELECT currency, sum(amount)::text AS total FROM ledger_postings GROUP BY currency HAVING sum(amount) <> 0`.execute(db);
  const drifted = await sql<{ id: number }>`
    SELECT a.id FROM ledger_accounts a
    WHERE a.balance <> coalesce((SELECT sum(p.amount) FROM ledger_postings p WHERE p.account_id = a.id), 0)`.execute(db);
  const statements = await sql<{ id: number }>`
    SELECT s.id FROM statements s
    WHERE s.earnings <> coalesce((SELECT -sum(p.amount) FROM ledger_postings p WHERE p.account_id = s.account_id
                                   AND p.transaction_id > s.after_transaction_id AND p.transaction_id <= s.through_transaction_id AND p.pay_run_id IS NULL), 0)
       OR s.topup <> coalesce((SELECT -sum(p.amount) FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
                                WHERE t.pay_run_id = s.pay_run_id AND t.kind = 'floor_topup' AND p.account_id = s.account_id), 0)`.execute(db);
  const count = await db.selectFrom('ledger_transactions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return result('the ledger balanced', Number(count.n), [
    ...unbalanced.rows.map((r) => `transaction ${r.id}: ${r.n} postings summing to ${r.total}`),
    ...currencies.rows.map((r) => `${r.currency} postings sum to ${r.total}`),
    ...drifted.rows.map((r) => `account ${r.id}: balance differs from its postings`),
    ...statements.rows.map((r) => `statement ${r.id}: total differs from its postings`),
  ]);
};

export const invariants: Check[] = [
  everySubmitStored,
  noTaskOverOverlap,
  noWorkerTwice,
  everyOutboxRowQueuedOrConsumed,
  noJobStuckActive,
  everyWebhookDelivered,
  noLeasePastExpiry,
  relayListening,
  everyTaskDecided,
  everyAcceptedPaidOnce,
  ledgerBalanced,
];

export async function checkInvariants(ctx: InvariantContext): Promise<InvariantResult[]> {
  const out: InvariantResult[] = [];
  for (const check of invariants) out.push(await check(ctx));
  return out;
}
