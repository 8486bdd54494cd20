import { describe, expect } from 'vitest';
import { sql } from '@fairlabel/db';
import { expectError, integrationTest, type Seed, type WorkerActor } from '@fairlabel/testing';
import { randomUUID } from 'node:crypto';
import { qaSamplingRoutes } from '../src/index.js';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { sampledForReview } from '../src/reviews/sampling.js';
import { applyAssignmentDecision } from '../../worker-assignment/src/qa-verdicts.service.js';
import { postSettlementEvents } from '../../settlement/src/settlement.consumer.js';
import { decisionsCounted, decisionsOf, eventsOf, pick, submit } from './helpers.js';

// Review sampling through the real stack: the consumer samples (decideSubmissions, what the
// qa-sampling queue's handler runs), reviewers lease and complete reviews over HTTP, and the events
// go to worker-assignment and settlement as their consumers would take them.

const test = integrationTest({ app: [qaSamplingRoutes] });

/** A job of its own skill (so no other test's reviews are eligible for this test's reviewers). */
async function reviewedJob(seed: Seed, tasks: number, policy: Record<string, unknown> = {}, columns: Record<string, unknown> = {}) {
  const skill = `skill-${randomUUID().slice(0, 8)}`;
  const job = await seed.activeJob(tasks, { overlap: 1, required_skill: skill, qa_policy: JSON.stringify({ review_sample_rate: 1, ...policy }), ...columns });
  return { job, skill };
}

async function workerAt(seed: Seed, skill: string, level: number, vendor?: string): Promise<WorkerActor> {
  return seed.worker(vendor ?? (await seed.vendor()).organizationId, { skills: { [skill]: level } });
}

const reviewsOf = (db: Parameters<typeof decisionsOf>[0], jobId: string) =>
  db.selectFrom('qa_reviews').selectAll().where('job_id', '=', jobId).orderBy('id').execute();

describe('review sampling', () => {
  test('the consumer samples exactly the submissions the seeded rate picks, once each, and gold never', async ({ env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 120, { review_sample_rate: 0.3 });
    const annotator = await workerAt(seed, skill, 1);
    const events = await submit(env.db, seed, job.tasks, [annotator], () => pick('cat'));
    await decideSubmissions(env.db, events, env.clock.now());
    await decideSubmissions(env.db, events, env.clock.now()); // redelivered
    const expected = events.filter((e) => sampledForReview(job.id, e.assignment_id, 0.3)).map((e) => e.assignment_id);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(events.length);
    expect((await reviewsOf(env.db, job.id)).map((r) => Number(r.assignment_id))).toEqual(expected.sort((a, b) => a - b));
    // A sampled submission still counts for consensus: every task (overlap 1) is decided.
    expect((await decisionsOf(env.db, job)).tasks).toHaveLength(120);

    const gold = await seed.activeJob(3, { required_skill: skill, qa_policy: JSON.stringify({ review_sample_rate: 1 }) });
    await sql`UPDATE tasks SET gold = ${JSON.stringify(pick('cat'))}::jsonb WHERE job_id = ${gold.id}`.execute(env.db);
    await decideSubmissions(env.db, await submit(env.db, seed, gold.tasks, [annotator], () => pick('cat')), env.clock.now());
    expect(await reviewsOf(env.db, gold.id)).toEqual([]);
  });

  test('a reviewer leases a review, rejects it over the consensus acceptance, and settlement reverses the pay and pays the review', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1);
    const annotator = await workerAt(seed, skill, 1);
    const reviewer = await workerAt(seed, skill, 2);
    const events = await submit(env.db, seed, job.tasks, [annotator], () => pick('cat'));
    await decideSubmissions(env.db, events, env.clock.now());
    const first = (await decisionsOf(env.db, job)).assignments;
    expect(first.map((d) => d.outcome)).toEqual(['accepted']);

    const next = await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: reviewer.auth });
    expect(next.statusCode, next.body).toBe(200);
    const review = next.json();
    expect(review).toMatchObject({ assignment_id: events[0]!.assignment_id, task_id: job.tasks[0]!.id, job_id: job.id, status: 'leased', answer: pick('cat') });
    // Leased: nobody else gets it.
    const other = await workerAt(seed, skill, 3);
    expect((await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: other.auth })).statusCode).toBe(204);

    const hb = await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/heartbeat`, headers: reviewer.auth });
    expect(hb.statusCode, hb.body).toBe(200);
    expect(hb.json().last_heartbeat_at).not.toBeNull();

    const done = await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'reject', comment: 'it is a dog', time_spent_ms: 9000 } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ outcome: 'rejected', assignment_outcome: 'rejected', task_decided: false });
    expect(await decisionsCounted(env.metrics, 'review')).toEqual({ rejected: 1 });
    const chain = (await decisionsOf(env.db, job)).assignments;
    expect(chain.map((d) => [d.outcome, d.supersedes_decision_id === null ? null : Number(d.supersedes_decision_id)])).toEqual([['accepted', null], ['rejected', Number(first[0]!.id)]]);
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'accept' } }), 409, 'review_completed');
    // The job's QA report counts it (the client's own job).
    const report = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/qa`, headers: job.owner.auth });
    expect(report.statusCode, report.body).toBe(200);
    expect(report.json().reviews).toEqual({ sampled: 1, open: 0, accepted: 0, rejected: 1, corrected: 0, appeals: { pending: 0, upheld: 0, denied: 0 } });

    // worker-assignment applies both decisions in order; settlement posts the earning, its reversal and the review's pay.
    const decided = (await eventsOf(env.db, 'assignment.decided', job.id)).filter((e) => e.queue === 'settlement').map((e) => e.payload);
    expect(decided.map((d) => d.outcome)).toEqual(['accepted', 'rejected']);
    for (const d of decided) expect(await applyAssignmentDecision(env.db, d)).toBe(true);
    expect((await env.db.selectFrom('assignments').select('status').where('id', '=', events[0]!.assignment_id).executeTakeFirstOrThrow()).status).toBe('rejected');
    const completed = (await sql<{ payload: never }>`SELECT payload FROM outbox WHERE event = 'review.completed' AND queue = 'settlement' AND payload->>'job_id' = ${job.id}`.execute(env.db)).rows;
    expect(completed).toHaveLength(1);
    const payables = async () => {
      const rows = await sql<{ worker_id: string; total: string }>`
        SELECT t.worker_id, sum(p.amount)::text AS total FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = p.account_id AND a.purpose = 'worker_payable'
        WHERE t.job_id = ${job.id} GROUP BY t.worker_id`.execute(env.db);
      return Object.fromEntries(rows.rows.map((r) => [r.worker_id, r.total]));
    };
    // Payables are credits (negative). Consensus's acceptance is paid first, as it would be in production.
    await postSettlementEvents(env.db, [{ event: 'assignment.decided', payload: decided[0]! }]);
    expect(await payables()).toEqual({ [annotator.workerId]: '-5' });
    // The review's rejection reverses it; the reviewer is paid the review rate (pay per annotation, 5, no commission); redelivery posts nothing.
    for (let i = 0; i < 2; i++) await postSettlementEvents(env.db, [{ event: 'assignment.decided', payload: decided[1]! }, { event: 'review.completed', payload: completed[0]!.payload }]);
    expect(await payables()).toEqual({ [annotator.workerId]: '0', [reviewer.workerId]: '-5' });
  });

  test('an accepting review of an undecided assignment is its first decision, and consensus leaves it alone', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1, {}, { overlap: 2 });
    const [a, b] = [await workerAt(seed, skill, 1), await workerAt(seed, skill, 1)];
    const reviewer = await workerAt(seed, skill, 2);
    const [ea] = await submit(env.db, seed, job.tasks, [a], () => pick('dog'));
    await decideSubmissions(env.db, [ea!], env.clock.now());
    const review = (await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: reviewer.auth })).json();
    expect(review.assignment_id).toBe(ea!.assignment_id);
    const done = await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'accept' } });
    expect(done.json()).toMatchObject({ assignment_outcome: 'accepted', task_decided: false });
    // The second answer completes the task; consensus decides it with both votes (the reviewed one
    // still counts; a 1:1 tie) and judges only b.
    const [eb] = await submit(env.db, seed, job.tasks, [b], () => pick('cat'));
    await decideSubmissions(env.db, [eb!], env.clock.now());
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.annotations, t.agreement])).toEqual([[2, 0.5]]);
    expect(assignments.map((d) => [Number(d.assignment_id), d.reason.startsWith('accepted by review') ? 'review' : 'consensus'])).toEqual([
      [ea!.assignment_id, 'review'],
      [eb!.assignment_id, 'consensus'],
    ]);
  });

  test('a rejecting review of an undecided assignment takes it out of its task\'s count: the task waits for another annotation', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1, {}, { overlap: 2 });
    const [a, b, c] = [await workerAt(seed, skill, 1), await workerAt(seed, skill, 1), await workerAt(seed, skill, 1)];
    const reviewer = await workerAt(seed, skill, 2);
    const [ea] = await submit(env.db, seed, job.tasks, [a], () => pick('dog'));
    await decideSubmissions(env.db, [ea!], env.clock.now());
    const review = (await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: reviewer.auth })).json();
    expect((await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'reject', comment: 'spam' } })).json()).toMatchObject({ assignment_outcome: 'rejected' });
    const count = async () => (await env.db.selectFrom('qa_tasks').select('submissions').where('task_id', '=', job.tasks[0]!.id).executeTakeFirstOrThrow()).submissions;
    expect(await count()).toBe(0);
    const [eb] = await submit(env.db, seed, job.tasks, [b], () => pick('cat'));
    await decideSubmissions(env.db, [eb!], env.clock.now());
    expect((await decisionsOf(env.db, job)).tasks).toEqual([]);
    const [ec] = await submit(env.db, seed, job.tasks, [c], () => pick('cat'));
    await decideSubmissions(env.db, [ec!], env.clock.now());
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.result, t.annotations, t.agreement])).toEqual([[pick('cat'), 2, 1]]);
    expect(assignments.map((d) => [Number(d.assignment_id), d.outcome])).toEqual([[ea!.assignment_id, 'rejected'], [eb!.assignment_id, 'accepted'], [ec!.assignment_id, 'accepted']]);
  });

  test('a correction decides an undecided task with the corrected answer and judges its other answers against it', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1, { review_sample_rate: 1 }, { overlap: 3 });
    const ws = [await workerAt(seed, skill, 1), await workerAt(seed, skill, 1)];
    const reviewer = await workerAt(seed, skill, 2);
    const events = await submit(env.db, seed, job.tasks, ws, (_t, w) => pick(w === 0 ? 'cat' : 'dog'));
    await decideSubmissions(env.db, events, env.clock.now());
    const review = (await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: reviewer.auth })).json();
    expect(review.assignment_id).toBe(events[0]!.assignment_id);
    // Refusals first: a correction must fit the label config and come with a corrected answer.
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'correct', corrected_answer: { label: { choices: ['zebra'] } } } }), 422, 'invalid_answer');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'correct' } }), 400, 'validation_failed');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'accept', corrected_answer: pick('dog') } }), 400, 'validation_failed');
    expect(await decisionsOf(env.db, job)).toEqual({ tasks: [], assignments: [] });

    const done = await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'correct', comment: 'a dog', corrected_answer: pick('dog') } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ outcome: 'corrected', assignment_outcome: 'rejected', task_decided: true });
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.method, t.result])).toEqual([['review', pick('dog')]]);
    expect(assignments.map((d) => [Number(d.assignment_id), d.outcome])).toEqual([[events[0]!.assignment_id, 'rejected'], [events[1]!.assignment_id, 'accepted']]);
    const taskDecided = (await eventsOf(env.db, 'task.decided', job.id)).filter((e) => e.queue === 'task-dispatch').map((e) => e.payload);
    expect(taskDecided).toEqual([expect.objectContaining({ accepted_assignment_ids: [events[1]!.assignment_id], rejected_assignment_ids: [events[0]!.assignment_id], automated: false })]);
  });

  test('nobody reviews their own work, a task they annotated, their vendor\'s when the job forbids it, or below the reviewer level', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1, { review_same_vendor: false, reviewer_level: 3 });
    const vendor = await seed.vendor();
    const annotator = await workerAt(seed, skill, 4, vendor.organizationId);
    const colleague = await workerAt(seed, skill, 4, vendor.organizationId);
    const junior = await workerAt(seed, skill, 2);
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [annotator], () => pick('cat')), env.clock.now());
    for (const w of [annotator, colleague, junior]) {
      const res = await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: w.auth });
      expect(res.statusCode, res.body).toBe(204);
      expect(res.headers['retry-after']).toBe('10');
    }
    expect((await reviewsOf(env.db, job.id)).map((r) => r.status)).toEqual(['pending']);
    // The same vendor may review when the job allows it (the default).
    await sql`UPDATE jobs SET qa_policy = qa_policy - 'review_same_vendor' WHERE id = ${job.id}`.execute(env.db);
    expect((await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: annotator.auth })).statusCode).toBe(204);
    expect((await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: colleague.auth })).statusCode).toBe(200);
  });

  test('a lease that runs out returns the review to the pool; the first reviewer can no longer complete or heartbeat it', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 1, {}, { lease_seconds: 60 });
    const annotator = await workerAt(seed, skill, 1);
    const [first, second] = [await workerAt(seed, skill, 2), await workerAt(seed, skill, 2)];
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [annotator], () => pick('cat')), env.clock.now());
    const review = (await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: first.auth })).json();
    expect((await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: second.auth })).statusCode).toBe(204);
    // Moved past the lease instead of waiting for it.
    await sql`UPDATE qa_reviews SET leased_at = leased_at - interval '61 seconds', lease_expires_at = lease_expires_at - interval '61 seconds' WHERE id = ${review.id}`.execute(env.db);
    const again = await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: second.auth });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().id).toBe(review.id);
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: first.auth, payload: { outcome: 'reject' } }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/heartbeat`, headers: first.auth }), 404, 'not_found');
    await sql`UPDATE qa_reviews SET lease_expires_at = lease_expires_at - interval '61 seconds' WHERE id = ${review.id}`.execute(env.db);
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: second.auth, payload: { outcome: 'reject' } }), 409, 'lease_expired');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/heartbeat`, headers: second.auth }), 409, 'lease_expired');
    expect((await decisionsOf(env.db, job)).assignments.map((d) => d.outcome)).toEqual(['accepted']);
  });

  test('concurrent reviewers never get the same review', async ({ app, env, seed }) => {
    const { job, skill } = await reviewedJob(seed, 5);
    const annotator = await workerAt(seed, skill, 1);
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [annotator], () => pick('cat')), env.clock.now());
    const reviewers = await Promise.all(Array.from({ length: 8 }, () => workerAt(seed, skill, 2)));
    const answers = await Promise.all(reviewers.map((r) => app.inject({ method: 'POST', url: '/v1/reviews/next', headers: r.auth })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 204, 204, 204]);
    const got = answers.filter((a) => a.statusCode === 200).map((a) => a.json().id as number);
    expect(new Set(got).size).toBe(5);
    const rows = await reviewsOf(env.db, job.id);
    expect(rows.map((r) => r.status)).toEqual(['leased', 'leased', 'leased', 'leased', 'leased']);
    expect(new Set(rows.map((r) => r.reviewer_worker_id)).size).toBe(5);
  });

  test('tenancy: only worker keys review; another worker\'s review is not found', async ({ app, env, seed, client, vendor, admin }) => {
    const { job, skill } = await reviewedJob(seed, 1);
    const annotator = await workerAt(seed, skill, 1);
    const reviewer = await workerAt(seed, skill, 2);
    const stranger = await workerAt(seed, 'other-skill', 5);
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [annotator], () => pick('cat')), env.clock.now());
    for (const key of [client, vendor, admin]) {
      expectError(await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: key.auth }), 403, 'forbidden');
    }
    const review = (await app.inject({ method: 'POST', url: '/v1/reviews/next', headers: reviewer.auth })).json();
    for (const key of [client, vendor]) {
      expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: key.auth, payload: { outcome: 'accept' } }), 403, 'forbidden');
    }
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: stranger.auth, payload: { outcome: 'accept' } }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/heartbeat`, headers: annotator.auth }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: '/v1/reviews/999999999/complete', headers: reviewer.auth, payload: { outcome: 'accept' } }), 404, 'not_found');
    expectError(await app.inject({ method: 'POST', url: `/v1/reviews/${review.id}/complete`, headers: reviewer.auth, payload: { outcome: 'maybe' } }), 400, 'validation_failed');
    // None of the refusals decided anything.
    expect((await reviewsOf(env.db, job.id)).map((r) => r.status)).toEqual(['leased']);
    expect((await decisionsOf(env.db, job)).assignments).toHaveLength(1);
  });
});
