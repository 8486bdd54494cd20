import { describe, expect } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql, type Db } from '@fairlabel/db';
import { expectError, integrationTest, type Seed, type WorkerActor } from '@fairlabel/testing';
import { qaSamplingRoutes } from '../src/index.js';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { applyAssignmentDecision } from '../../worker-assignment/src/qa-verdicts.service.js';
import { postSettlementEvents } from '../../settlement/src/settlement.consumer.js';
import { decisionsCounted, decisionsOf, eventsOf, pick, submit } from './helpers.js';

// Appeals over HTTP on the real stack; consensus makes the rejections (decideSubmissions, the
// consumer's path) and the events are applied by worker-assignment's and settlement's own functions.

const test = integrationTest({ app: [qaSamplingRoutes] });

/**
 * A task decided 2:1 by three workers of level `level` in a skill of its own: the odd one out (`loser`)
 * is rejected. Returns the assignments by worker.
 */
async function rejectedWork(env: { db: Db; clock: { now(): Date } }, seed: Seed, level = 1) {
  const skill = `skill-${randomUUID().slice(0, 8)}`;
  const job = await seed.activeJob(1, { overlap: 3, required_skill: skill });
  const vendor = await seed.vendor();
  const ws = [];
  for (let i = 0; i < 3; i++) ws.push(await seed.worker(vendor, { skills: { [skill]: level } }));
  const events = await submit(env.db, seed, job.tasks, ws, (_t, w) => pick(w === 2 ? 'dog' : 'cat'));
  await decideSubmissions(env.db, events, env.clock.now());
  const decisions = (await decisionsOf(env.db, job)).assignments;
  expect(decisions.map((d) => d.outcome)).toEqual(['accepted', 'accepted', 'rejected']);
  return { job, skill, vendor, winner: ws[0]!, loser: ws[2]!, assignment: (w: WorkerActor) => events.find((e) => e.worker_id === w.workerId)!.assignment_id };
}

describe('appeals', () => {
  test('an upheld appeal supersedes the rejection; worker-assignment accepts the assignment and settlement pays it once', async ({ app, env, seed }) => {
    const work = await rejectedWork(env, seed);
    const senior = await seed.worker(await seed.vendor(), { skills: { [work.skill]: 2 } });
    const id = work.assignment(work.loser);
    const res = await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'the picture shows a dog' } });
    expect(res.statusCode, res.body).toBe(201);
    const appeal = res.json();
    expect(appeal).toMatchObject({ assignment_id: id, job_id: work.job.id, worker_level: 1, status: 'pending', reason: 'the picture shows a dog', decision_id: null });

    // The senior reviewer sees it; the appellant and a peer of their level do not.
    expect((await app.inject({ method: 'GET', url: '/v1/appeals', headers: senior.auth })).json().data.map((a: { id: number }) => a.id)).toEqual([appeal.id]);
    expect((await app.inject({ method: 'GET', url: '/v1/appeals', headers: work.winner.auth })).json().data).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/v1/appeals', headers: work.loser.auth })).json().data).toEqual([]);

    const decided = await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: senior.auth, payload: { outcome: 'upheld', comment: 'it is a dog' } });
    expect(decided.statusCode, decided.body).toBe(200);
    expect(decided.json()).toMatchObject({ status: 'upheld', comment: 'it is a dog', decision_id: expect.any(Number) });
    // Counted in fairlabel_qa_decisions_total as the appeal's decision (source appeal), once.
    expect(await decisionsCounted(env.metrics, 'appeal')).toEqual({ accepted: 1 });
    expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: senior.auth, payload: { outcome: 'denied', comment: 'changed my mind' } }), 409, 'appeal_decided');

    const chain = (await decisionsOf(env.db, work.job)).assignments.filter((d) => Number(d.assignment_id) === id);
    expect(chain.map((d) => [d.outcome, d.supersedes_decision_id === null ? null : Number(d.supersedes_decision_id)])).toEqual([['rejected', null], ['accepted', appeal.rejection_decision_id]]);
    expect(Number(chain[1]!.id)).toBe(decided.json().decision_id);

    // Both decisions reach worker-assignment and settlement (each twice: redelivery changes nothing).
    const events = (await eventsOf(env.db, 'assignment.decided', work.job.id)).filter((e) => e.queue === 'settlement' && e.payload.assignment_id === id).map((e) => e.payload);
    expect(events.map((e) => [e.outcome, e.supersedes_decision_id])).toEqual([['rejected', null], ['accepted', appeal.rejection_decision_id]]);
    for (const e of [...events, ...events]) await applyAssignmentDecision(env.db, e);
    expect((await env.db.selectFrom('assignments').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status).toBe('accepted');
    for (const e of [...events, ...events]) await postSettlementEvents(env.db, [{ event: 'assignment.decided', payload: e }]);
    const earnings = await sql<{ n: number; total: string }>`
      SELECT count(DISTINCT t.id)::int AS n, coalesce(sum(p.amount), 0)::text AS total FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
      JOIN ledger_accounts a ON a.id = p.account_id AND a.purpose = 'worker_payable' WHERE t.assignment_id = ${id}`.execute(env.db);
    // Paid once: one earning of the job's pay per annotation (5; payables are credits).
    expect(earnings.rows[0]).toEqual({ n: 1, total: '-5' });
  });

  test('a denied appeal leaves the rejection in force', async ({ app, env, seed }) => {
    const work = await rejectedWork(env, seed);
    const senior = await seed.worker(await seed.vendor(), { skills: { [work.skill]: 3 } });
    const id = work.assignment(work.loser);
    const appeal = (await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'please' } })).json();
    const res = await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: senior.auth, payload: { outcome: 'denied', comment: 'it is a cat' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'denied', decision_id: null });
    expect((await decisionsOf(env.db, work.job)).assignments.filter((d) => Number(d.assignment_id) === id).map((d) => d.outcome)).toEqual(['rejected']);
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'again' } }), 409, 'already_appealed');
  });

  test('refusals: not rejected, already appealed, too late, not yours, not a worker key, bad body', async ({ app, env, seed, client, vendor }) => {
    const work = await rejectedWork(env, seed);
    const id = work.assignment(work.loser);
    const count = async () => (await env.db.selectFrom('qa_appeals').select(sql<number>`count(*)::int`.as('n')).where('job_id', '=', work.job.id).executeTakeFirstOrThrow()).n;
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${work.assignment(work.winner)}/appeal`, headers: work.winner.auth, payload: { reason: 'x' } }), 409, 'not_rejected');
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.winner.auth, payload: { reason: 'x' } }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: '/v1/assignments/999999999/appeal', headers: work.loser.auth, payload: { reason: 'x' } }), 404, 'not_found');
    for (const key of [client, vendor]) {
      expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: key.auth, payload: { reason: 'x' } }), 403, 'forbidden');
    }
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: '' } }), 400, 'validation_failed');
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: {} }), 400, 'validation_failed');
    // An undecided assignment is not rejected either.
    const pending = await seed.activeJob(1, { overlap: 2, required_skill: work.skill });
    const [p] = await submit(env.db, seed, pending.tasks, [work.loser], () => pick('cat'));
    await decideSubmissions(env.db, [p!], env.clock.now());
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${p!.assignment_id}/appeal`, headers: work.loser.auth, payload: { reason: 'x' } }), 409, 'not_rejected');
    expect(await count()).toBe(0);
    // Seven days after the rejection the window has closed (the decision is backdated, not waited for).
    await sql`UPDATE qa_assignment_decisions SET decided_at = now() - interval '7 days 1 minute' WHERE assignment_id = ${id}`.execute(env.db);
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'x' } }), 409, 'appeal_window_closed');
    expect(await count()).toBe(0);
    await sql`UPDATE qa_assignment_decisions SET decided_at = now() - interval '6 days 23 hours' WHERE assignment_id = ${id}`.execute(env.db);
    expect((await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'x' } })).statusCode).toBe(201);
    expectError(await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'x' } }), 409, 'already_appealed');
    expect(await count()).toBe(1);
  });

  test('only a higher level decides, never the appellant, not their vendor when the job forbids it; tenancy of the decide route', async ({ app, env, seed, client, vendor, admin }) => {
    const work = await rejectedWork(env, seed, 2);
    const id = work.assignment(work.loser);
    const appeal = (await app.inject({ method: 'POST', url: `/v1/assignments/${id}/appeal`, headers: work.loser.auth, payload: { reason: 'x' } })).json();
    expect(appeal.worker_level).toBe(2);
    const peer = await seed.worker(await seed.vendor(), { skills: { [work.skill]: 2 } });
    const colleague = await seed.worker(work.vendor, { skills: { [work.skill]: 4 } });
    const unskilled = await seed.worker(await seed.vendor(), { skills: { other: 5 } });
    const body = { outcome: 'upheld', comment: 'ok' };
    expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: work.loser.auth, payload: body }), 403, 'forbidden');
    for (const w of [peer, unskilled]) expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: w.auth, payload: body }), 403, 'forbidden');
    for (const key of [client, vendor, admin]) {
      expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: key.auth, payload: body }), 403, 'forbidden');
      expectError(await app.inject({ method: 'GET', url: '/v1/appeals', headers: key.auth }), 403, 'forbidden');
    }
    expectError(await app.inject({ method: 'POST', url: '/v1/appeals/999999999/decide', headers: colleague.auth, payload: body }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: colleague.auth, payload: { outcome: 'upheld' } }), 400, 'validation_failed');
    await sql`UPDATE jobs SET qa_policy = qa_policy || '{"review_same_vendor": false}'::jsonb WHERE id = ${work.job.id}`.execute(env.db);
    expectError(await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: colleague.auth, payload: body }), 403, 'forbidden');
    expect((await env.db.selectFrom('qa_appeals').select('status').where('id', '=', appeal.id).executeTakeFirstOrThrow()).status).toBe('pending');
    expect((await decisionsOf(env.db, work.job)).assignments).toHaveLength(3);
    await sql`UPDATE jobs SET qa_policy = qa_policy - 'review_same_vendor' WHERE id = ${work.job.id}`.execute(env.db);
    expect((await app.inject({ method: 'POST', url: `/v1/appeals/${appeal.id}/decide`, headers: colleague.auth, payload: body })).statusCode).toBe(200);
  });
});
