import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { OutboxRelay, publish } from '@fairlabel/queues';
import { integrationTest, type TestEnv } from '@fairlabel/testing';
import { createSettlementConsumer, settlementHandlers } from '../src/settlement.consumer.js';
import { asDecision, decided, ledgerIsConsistent, owed, post, transactionsOf, world } from './helpers.js';

// QA's decisions become ledger transactions: through the real outbox, relay, BullMQ and consumer, and
// (for the rules of pay) by calling the consumer's handlers with parsed payloads.

const test = integrationTest();

const ctx = { jobId: 'test', attempt: 1, log: undefined as never };

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the settlement consumer, through the outbox and the relay', () => {
  test('posts one earning per accepted assignment, one charge per decided task and the review pay, once however often events repeat', async ({ env, seed }) => {
    const w = await world(seed, { workers: 2, tasks: 1 });
    const [a0, a1] = w.assignments;
    const d0 = decided(a0!, w.client.organizationId, 'accepted');
    const d1 = decided(a1!, w.client.organizationId, 'rejected');
    const publishAll = () =>
      env.db.transaction().execute(async (trx) => {
        await publish(trx, 'assignment.decided', d0);
        await publish(trx, 'assignment.decided', d1);
        await publish(trx, 'task.decided', {
          task_id: w.tasks[0]!.id,
          job_id: w.job.id,
          client_id: w.client.organizationId,
          decision_id: 900,
          agreement: 0.5,
          automated: false,
          accepted_assignment_ids: [a0!.id],
          rejected_assignment_ids: [a1!.id],
        });
        await publish(trx, 'review.completed', {
          review_id: 77,
          reviewer_worker_id: w.workers[1]!.workerId,
          reviewer_vendor_id: w.vendor.organizationId,
          assignment_id: a0!.id,
          job_id: w.job.id,
          client_id: w.client.organizationId,
          outcome: 'accepted',
          completed_at: new Date().toISOString(),
          time_spent_ms: 30_000,
        });
      });
    await publishAll();
    // The same events published again: new outbox rows, new BullMQ jobs, as a redelivery would be.
    await publishAll();

    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 100 });
    const consumer = createSettlementConsumer(env, env.redis, 16);
    try {
      await relay.start();
      const keys = await until(
        async () => (await env.db.selectFrom('ledger_transactions').select('key').orderBy('key').execute()).map((r) => r.key),
        (k) => k.length >= 3,
      );
      // Let the duplicates drain too.
      await until(async () => (await env.db.selectFrom('outbox').select('id').where('sent_at', 'is', null).execute()).length, (n) => n === 0);
      await until(async () => consumer.isRunning() && (await consumerIdle(env)), Boolean);
      expect(keys).toEqual([`assignment:${a0!.id}:earning`, 'review:77:earning', `task:${w.tasks[0]!.id}:charge`]);
      expect((await env.db.selectFrom('ledger_transactions').select('key').execute()).length).toBe(3);
    } finally {
      await consumer.close();
      await relay.stop();
    }
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(100n);
    expect(await owed(env.db, w.workers[1]!.workerId)).toBe(100n); // the review: pay_per_annotation by default
    expect(await owed(env.db, w.client.organizationId, 'client_receivable')).toBe(-500n); // the client owes 500
    expect(await ledgerIsConsistent(env.db)).toEqual({ unbalanced: 0, drifted: 0, total: '0' });
  });
});

/** The ledger counters of this process's registry, as 'transactions <kind>' / 'postings <kind>' -> value. */
async function ledgerCounters(env: TestEnv): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await env.metrics.ledgerTransactions.get()).values) out[`transactions ${v.labels.kind}`] = v.value;
  for (const v of (await env.metrics.ledgerPostings.get()).values) out[`postings ${v.labels.kind}`] = v.value;
  return out;
}

/** The counters that moved, by how much. */
function diff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).flatMap(([k, v]) => (v !== (before[k] ?? 0) ? [[k, v - (before[k] ?? 0)]] : [])));
}

/** What the assignment's earning pays the worker and vendor (holder-side), as text. */
async function earningAmount(env: TestEnv, assignmentId: number): Promise<string> {
  const r = await sql<{ amount: string }>`
    SELECT (-sum(p.amount) FILTER (WHERE p.amount < 0))::text AS amount FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
    WHERE t.key = ${`assignment:${assignmentId}:earning`}
  `.execute(env.db);
  return r.rows[0]!.amount;
}

async function consumerIdle(env: TestEnv): Promise<boolean> {
  const keys = await env.redis.keys(`${env.prefix}:settlement:active`);
  if (keys.length === 0) return true;
  return (await env.redis.llen(keys[0]!)) === 0;
}

describe('the rules of pay', () => {
  test('pays accepted work × the level multiplier, takes the vendor commission out of the gross, pays rejections per the job policy', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 4, pay: 100, payPolicy: { rejected_pay_bp: 2500, verify_rate: 40 } });
    await env.db.insertInto('vendor_contracts').values({ vendor_id: w.vendor.organizationId, effective_from: new Date('2020-01-01'), commission_bp: 1000 }).execute();
    const { handlers } = settlementHandlers(env);
    const [a, b, c, d] = w.assignments;
    await handlers['assignment.decided']!(decided(a!, w.client.organizationId, 'accepted', { worker_level: 3 }), ctx);
    await handlers['assignment.decided']!(decided(b!, w.client.organizationId, 'rejected', { worker_level: 3 }), ctx);
    await handlers['assignment.decided']!(decided(c!, w.client.organizationId, 'accepted', { worker_level: 5, kind: 'gold' }), ctx);
    await handlers['assignment.decided']!(decided(d!, w.client.organizationId, 'accepted', { worker_level: 2, kind: 'verify' }), ctx);
    // L3 1.30: gross 130, vendor 13, worker 117. Rejected at 25%: gross 33 (32.5 rounded half up), vendor 3, worker 30.
    // Gold at L5 1.60: gross 160, vendor 16, worker 144. Verify at 40 × L2 1.15: gross 46, vendor 5 (4.6), worker 41.
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(117n + 30n + 144n + 41n);
    expect(await owed(env.db, w.vendor.organizationId, 'vendor_payable')).toBe(13n + 3n + 16n + 5n);
    expect((await transactionsOf(env.db, b!.id)).map((t) => t.kind)).toEqual(['rejected_pay']);
  });

  test('applies the multiplier and the commission effective when the work was decided: each from its effective_from on, none before, none from the future', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 4, pay: 100 });
    // L4 is 1.45 from 1970 (the default), 2.00 in the first half of 2021, 1.45 again since: decisions made
    // now (the file's other tests) get the default still.
    await env.db
      .insertInto('level_multipliers')
      .values([
        { level: 4, effective_from: new Date('2021-01-01T00:00:00Z'), multiplier_bp: 20_000 },
        { level: 4, effective_from: new Date('2021-06-01T00:00:00Z'), multiplier_bp: 14_500 },
      ])
      .execute();
    await env.db
      .insertInto('vendor_contracts')
      .values([
        { vendor_id: w.vendor.organizationId, effective_from: new Date('2020-01-01T00:00:00Z'), commission_bp: 1000 },
        { vendor_id: w.vendor.organizationId, effective_from: new Date('2021-03-01T00:00:00Z'), commission_bp: 2000 },
        { vendor_id: w.vendor.organizationId, effective_from: new Date('2999-01-01T00:00:00Z'), commission_bp: 5000 },
      ])
      .execute();
    const [a, b, c, d] = w.assignments;
    const at = (x: typeof a, decidedAt: string) => asDecision(decided(x!, w.client.organizationId, 'accepted', { worker_level: 4, decided_at: decidedAt }));
    await post(env.db, at(a, '2020-06-01T00:00:00.000Z'), at(b, '2021-03-01T00:00:00.000Z'), at(c, '2021-02-28T23:59:59.999Z'), at(d, new Date().toISOString()));
    const pay = await sql<{ assignment_id: number; multiplier_bp: number; commission_bp: number; worker_amount: string; vendor_amount: string }>`
      SELECT assignment_id, multiplier_bp, commission_bp, worker_amount::text, vendor_amount::text
      FROM st_expected_pay(${[a!.id, b!.id, c!.id, d!.id]}::bigint[]) ORDER BY assignment_id
    `.execute(env.db);
    const of = (x: typeof a) => pay.rows.find((r) => r.assignment_id === x!.id);
    // Gross 145, vendor 15 (14.5 rounded half away from zero) / gross 200 at 20 % from its first instant /
    // gross 200 at 10 % a millisecond before / gross 145 at 20 % (the 2999 contract not yet).
    expect(of(a)).toEqual({ assignment_id: a!.id, multiplier_bp: 14_500, commission_bp: 1000, worker_amount: '130', vendor_amount: '15' });
    expect(of(b)).toEqual({ assignment_id: b!.id, multiplier_bp: 20_000, commission_bp: 2000, worker_amount: '160', vendor_amount: '40' });
    expect(of(c)).toEqual({ assignment_id: c!.id, multiplier_bp: 20_000, commission_bp: 1000, worker_amount: '180', vendor_amount: '20' });
    expect(of(d)).toEqual({ assignment_id: d!.id, multiplier_bp: 14_500, commission_bp: 2000, worker_amount: '116', vendor_amount: '29' });
    // And the ledger posted exactly that.
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(130n + 160n + 180n + 116n);
    expect(await owed(env.db, w.vendor.organizationId, 'vendor_payable')).toBe(15n + 40n + 20n + 29n);
  });

  test('an upheld appeal posts what the rejection lacked; a superseding rejection takes it back; nothing is deleted', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 1, pay: 100, payPolicy: { rejected_pay_bp: 2000 } });
    const a = w.assignments[0]!;
    const first = decided(a, w.client.organizationId, 'rejected');
    await post(env.db, asDecision(first));
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(20n);
    const appeal = decided(a, w.client.organizationId, 'accepted', { supersedes_decision_id: first.decision_id });
    await post(env.db, asDecision(appeal));
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(100n);
    const fraud = decided(a, w.client.organizationId, 'rejected', { supersedes_decision_id: appeal.decision_id });
    await post(env.db, asDecision(fraud));
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(20n);
    // The appeal takes the rejection pay back and posts the earning in full.
    expect((await transactionsOf(env.db, a.id)).map((t) => t.key)).toEqual([
      `assignment:${a.id}:rejected_pay`,
      `assignment:${a.id}:correction:1`,
      `assignment:${a.id}:earning`,
      `assignment:${a.id}:correction:3`,
    ]);
    expect(await earningAmount(env, a.id)).toBe('100');
    // Redelivering any of them changes nothing.
    await post(env.db, asDecision(first), asDecision(appeal), asDecision(fraud));
    expect((await transactionsOf(env.db, a.id)).length).toBe(4);
  });

  test('an acceptance posts its earning even when the rejection it supersedes paid as much or more, whichever came first', async ({ env, seed }) => {
    // Rejection paid in full (rejected_pay_bp 10000): accepted at L1, then rejected at L3, then accepted at L3
    // (the property test's counterexample, seed 1964786708), the rejection arriving first.
    const w = await world(seed, { workers: 2, tasks: 1, pay: 99, payPolicy: { rejected_pay_bp: 10_000 } });
    const [a, b] = w.assignments;
    const first = decided(a!, w.client.organizationId, 'accepted', { worker_level: 1 });
    const reversal = decided(a!, w.client.organizationId, 'rejected', { worker_level: 3, supersedes_decision_id: first.decision_id });
    const appeal = decided(a!, w.client.organizationId, 'accepted', { worker_level: 3, supersedes_decision_id: reversal.decision_id });
    await post(env.db, asDecision(reversal));
    await post(env.db, asDecision(appeal));
    await post(env.db, asDecision(first));
    expect((await transactionsOf(env.db, a!.id)).map((t) => t.kind)).toEqual(['rejected_pay', 'earning_correction', 'earning']);
    expect(await earningAmount(env, a!.id)).toBe('129'); // 99 x L3 1.30 = 128.7
    // Rejected at L5 (158, paid in full), then accepted at L1 (99): the earning is 99, not -59.
    const rejected = decided(b!, w.client.organizationId, 'rejected', { worker_level: 5 });
    await post(env.db, asDecision(rejected));
    await post(env.db, asDecision(decided(b!, w.client.organizationId, 'accepted', { worker_level: 1, supersedes_decision_id: rejected.decision_id })));
    expect(await earningAmount(env, b!.id)).toBe('99');
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(129n);
    expect(await owed(env.db, w.workers[1]!.workerId)).toBe(99n);
    expect(await ledgerIsConsistent(env.db)).toEqual({ unbalanced: 0, drifted: 0, total: '0' });
  });

  test('the result does not depend on the order decisions arrive in', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 1, pay: 100 });
    const a = w.assignments[0]!;
    const first = decided(a, w.client.organizationId, 'rejected');
    const appeal = decided(a, w.client.organizationId, 'accepted', { supersedes_decision_id: first.decision_id });
    await post(env.db, asDecision(appeal));
    await post(env.db, asDecision(first));
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(100n);
    expect((await transactionsOf(env.db, a.id)).map((t) => t.kind)).toEqual(['earning']);
  });

  test('charges the client per decided item, at the automation price when a model decided it', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 2, price: 500, payPolicy: { automation_price: 50 } });
    const { handlers } = settlementHandlers(env);
    const base = { job_id: w.job.id, client_id: w.client.organizationId, agreement: 1, accepted_assignment_ids: [], rejected_assignment_ids: [] };
    await handlers['task.decided']!({ ...base, task_id: w.tasks[0]!.id, automated: true }, ctx);
    await handlers['task.decided']!({ ...base, task_id: w.tasks[1]!.id }, ctx);
    await handlers['task.decided']!({ ...base, task_id: w.tasks[1]!.id, decision_id: 5 }, ctx);
    expect(await owed(env.db, w.client.organizationId, 'client_receivable')).toBe(-550n);
  });

  test('refuses an event for a job that does not exist, without failing the others of its batch', async ({ env, seed }) => {
    const w = await world(seed, { workers: 1, tasks: 1 });
    const { handlers } = settlementHandlers(env);
    const good = decided(w.assignments[0]!, w.client.organizationId, 'accepted');
    const bad = { ...decided(w.assignments[0]!, w.client.organizationId, 'accepted'), job_id: '00000000-0000-4000-8000-000000000000', assignment_id: 999_999 };
    const results = await Promise.allSettled([handlers['assignment.decided']!(bad, ctx), handlers['assignment.decided']!(good, ctx)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(await owed(env.db, w.workers[0]!.workerId)).toBe(100n);
  });

  test('counts what it commits in the ledger metrics, by kind, and nothing for a batch it could not post', async ({ env, seed }) => {
    const w = await world(seed, { workers: 2, tasks: 2, payPolicy: { rejected_pay_bp: 5000 } });
    const { handlers } = settlementHandlers(env);
    const before = await ledgerCounters(env);
    const [a, b, c] = w.assignments;
    await Promise.all([
      handlers['assignment.decided']!(decided(a!, w.client.organizationId, 'accepted'), ctx),
      handlers['assignment.decided']!(decided(b!, w.client.organizationId, 'accepted'), ctx),
      handlers['assignment.decided']!(decided(c!, w.client.organizationId, 'rejected'), ctx),
      handlers['task.decided']!({ task_id: w.tasks[0]!.id, job_id: w.job.id, client_id: w.client.organizationId, agreement: 1, accepted_assignment_ids: [], rejected_assignment_ids: [] }, ctx),
    ]);
    const bad = { ...decided(a!, w.client.organizationId, 'accepted'), job_id: '00000000-0000-4000-8000-000000000000', assignment_id: 999_998 };
    await expect(handlers['assignment.decided']!(bad, ctx)).rejects.toMatchObject({ code: '23503' });
    const after = await ledgerCounters(env);
    // Earnings and rejection pay: worker, vendor and platform legs (no vendor contract: no vendor leg); the charge: two legs.
    expect(diff(before, after)).toEqual({
      'transactions earning': 2,
      'postings earning': 4,
      'transactions rejected_pay': 1,
      'postings rejected_pay': 2,
      'transactions client_charge': 1,
      'postings client_charge': 2,
    });
  });

  test('posts many decisions arriving at once in a few group commits', async ({ env, seed }) => {
    const w = await world(seed, { workers: 3, tasks: 40 });
    const { handlers } = settlementHandlers(env, 50);
    await Promise.all(w.assignments.map((a) => handlers['assignment.decided']!(decided(a, w.client.organizationId, 'accepted'), ctx)));
    const n = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ledger_transactions WHERE job_id = ${w.job.id}`.execute(env.db);
    expect(n.rows[0]!.n).toBe(120);
    expect(await ledgerIsConsistent(env.db)).toEqual({ unbalanced: 0, drifted: 0, total: '0' });
  });
});
