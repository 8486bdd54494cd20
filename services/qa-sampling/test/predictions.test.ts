import { describe, expect } from 'vitest';
import { sql, type Db } from '@fairlabel/db';
import { integrationTest } from '@fairlabel/testing';
import { qaSamplingRoutes } from '../src/index.js';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { qaHandlers } from '../src/qa.consumer.js';
import { workerAssignmentRoutes } from '../../worker-assignment/src/index.js';
import { taskDispatchRoutes } from '../../task-dispatch/src/index.js';
import { raiseRequiredAnnotations } from '../../task-dispatch/src/jobs.service.js';
import { onTaskDecided } from '../../task-dispatch/src/task-dispatch.consumer.js';
import { postSettlementEvents } from '../../settlement/src/settlement.consumer.js';
import { decisionsOf, eventsOf, pick, submit, workersOf, type Submitted } from './helpers.js';
import type { WorkerActor } from '@fairlabel/testing';

// The three prediction modes on the real stack: `auto` through the qa-sampling queue's handlers for
// job.activated / tasks.imported, `verify` through the submission path (decideSubmissions), `assist`
// through worker-assignment's claim route.

const test = integrationTest({ app: [qaSamplingRoutes, workerAssignmentRoutes, taskDispatchRoutes] });
const ctx = { jobId: 'test', attempt: 1, log: undefined as never };

async function predict(db: Db, taskId: number, label: string, confidence: number) {
  await sql`UPDATE tasks SET prediction = ${JSON.stringify(pick(label))}::jsonb, prediction_confidence = ${confidence}, prediction_model = 'resnet-7',
    predictions = ${JSON.stringify([{ answer: pick(label), model_version: 'resnet-7', score: confidence }])}::jsonb WHERE id = ${taskId}`.execute(db);
}

const payable = async (db: Db, assignmentId: number) =>
  (await sql<{ total: string }>`
    SELECT coalesce(sum(p.amount), 0)::text AS total FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
    JOIN ledger_accounts a ON a.id = p.account_id AND a.purpose = 'worker_payable' WHERE t.assignment_id = ${assignmentId}`.execute(db)).rows[0]!.total;

describe('model predictions', () => {
  test('auto: a qualifying prediction decides its task with no human, as automated work; others, gold and a second run are left alone', async ({ env, seed }) => {
    const job = await seed.activeJob(4, { overlap: 2, qa_policy: JSON.stringify({ prediction_mode: 'auto', prediction_threshold: 0.8 }), pay_policy: JSON.stringify({ automation_price: 7 }) });
    const [t0, t1, t2, gold] = job.tasks;
    await predict(env.db, t0!.id, 'dog', 0.8);
    await predict(env.db, t1!.id, 'dog', 0.79);
    await predict(env.db, gold!.id, 'dog', 0.99);
    await sql`UPDATE tasks SET gold = ${JSON.stringify(pick('dog'))}::jsonb WHERE id = ${gold!.id}`.execute(env.db);
    // A worker who got to t0 before QA did: recorded, undecided (overlap 2).
    const [early] = await submit(env.db, seed, [t0!], await workersOf(seed, 1), () => pick('cat'));
    await decideSubmissions(env.db, [early!], env.clock.now());

    const { handlers } = qaHandlers(env);
    await handlers['job.activated']!({ job_id: job.id, client_id: job.client_id }, ctx);
    await handlers['job.activated']!({ job_id: job.id, client_id: job.client_id }, ctx);
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.task_id, t.method, t.automated, t.result, t.annotations])).toEqual([[t0!.id, 'automation', true, pick('dog'), 1]]);
    expect(assignments.map((a) => [Number(a.assignment_id), a.outcome])).toEqual([[early!.assignment_id, 'rejected']]);
    const decided = (await eventsOf(env.db, 'task.decided', job.id)).filter((e) => e.queue === 'task-dispatch').map((e) => e.payload);
    expect(decided).toEqual([expect.objectContaining({ task_id: t0!.id, automated: true, agreement: null, accepted_assignment_ids: [], rejected_assignment_ids: [early!.assignment_id] })]);

    // task-dispatch closes it with the prediction; settlement charges the automation price.
    await onTaskDecided(env.db, decided[0]!);
    expect(await env.db.selectFrom('tasks').select(['status', 'result']).where('id', '=', t0!.id).executeTakeFirstOrThrow()).toEqual({ status: 'decided', result: pick('dog') });
    await postSettlementEvents(env.db, [{ event: 'task.decided', payload: decided[0]! }]);
    const charge = await env.db.selectFrom('ledger_transactions').select(['kind', 'details']).where('task_id', '=', t0!.id).execute();
    expect(charge).toEqual([{ kind: 'client_charge', details: { automated: true, price: 7 } }]);

    // Tasks imported later are automated on tasks.imported.
    const late = await env.db.insertInto('tasks').values({ job_id: job.id, external_id: 'late', payload: JSON.stringify({ text: 'late' }), required_annotations: 2 }).returning('id').executeTakeFirstOrThrow();
    await predict(env.db, late.id, 'cat', 0.95);
    await handlers['tasks.imported']!({ job_id: job.id, client_id: job.client_id, created: 1 }, ctx);
    expect((await decisionsOf(env.db, job)).tasks.map((t) => t.task_id)).toEqual([t0!.id, late.id]);
    // Below the threshold, without a prediction, and gold: still open, for the annotators.
    const open = await env.db.selectFrom('tasks').select('id').where('job_id', '=', job.id).where('status', '=', 'open').orderBy('id').execute();
    expect(open.map((t) => t.id)).toEqual([t1!.id, t2!.id, gold!.id, late.id]);
  });

  test('auto does nothing for a job in another mode or not active', async ({ env, seed }) => {
    const assist = await seed.activeJob(1, { qa_policy: JSON.stringify({ prediction_mode: 'assist' }) });
    const paused = await seed.activeJob(1, { status: 'paused', qa_policy: JSON.stringify({ prediction_mode: 'auto' }) });
    for (const j of [assist, paused]) await predict(env.db, j.tasks[0]!.id, 'cat', 1);
    const { handlers } = qaHandlers(env);
    for (const j of [assist, paused]) await handlers['job.activated']!({ job_id: j.id, client_id: j.client_id }, ctx);
    for (const j of [assist, paused]) expect((await decisionsOf(env.db, j)).tasks).toEqual([]);
  });

  test('verify: one agreeing answer confirms the prediction, paid at the verify rate; a disagreeing one waits for consensus or a confirmer', async ({ env, seed }) => {
    const job = await seed.activeJob(3, { overlap: 2, qa_policy: JSON.stringify({ prediction_mode: 'verify', prediction_threshold: 0.8 }), pay_policy: JSON.stringify({ verify_rate: 2 }) });
    const [t0, t1, t2] = job.tasks;
    await predict(env.db, t0!.id, 'cat', 0.9);
    await predict(env.db, t1!.id, 'cat', 0.9);
    await predict(env.db, t2!.id, 'cat', 0.5); // below the threshold: ordinary consensus
    const [a, b] = await workersOf(seed, 2);
    const first = await submit(env.db, seed, job.tasks, [a!], (t) => pick(t.id === t1!.id ? 'dog' : 'cat'));
    await decideSubmissions(env.db, first, env.clock.now());
    let { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.task_id, t.method, t.automated, t.result])).toEqual([[t0!.id, 'automation', false, pick('cat')]]);
    expect(assignments.map((d) => [d.task_id, d.kind, d.outcome])).toEqual([[t0!.id, 'verify', 'accepted']]);

    // t1: a second worker agrees with the model and confirms it; the first is judged against it.
    const second = await submit(env.db, seed, [t1!, t2!], [b!], () => pick('cat'));
    await decideSubmissions(env.db, second, env.clock.now());
    ({ tasks, assignments } = await decisionsOf(env.db, job));
    expect(tasks.map((t) => [t.task_id, t.method])).toEqual([[t0!.id, 'automation'], [t1!.id, 'automation'], [t2!.id, 'majority']]);
    const byAssignment = (id: number) => assignments.filter((d) => Number(d.assignment_id) === id).map((d) => [d.kind, d.outcome]);
    expect(byAssignment(first.find((e) => e.task_id === t1!.id)!.assignment_id)).toEqual([['annotation', 'rejected']]);
    expect(byAssignment(second.find((e) => e.task_id === t1!.id)!.assignment_id)).toEqual([['verify', 'accepted']]);
    expect(byAssignment(second.find((e) => e.task_id === t2!.id)!.assignment_id)).toEqual([['annotation', 'accepted']]);

    // Settlement pays verify work at the verify rate (2), other work at pay per annotation (5).
    const events = (await eventsOf(env.db, 'assignment.decided', job.id)).filter((e) => e.queue === 'settlement');
    await postSettlementEvents(env.db, events.map((e) => ({ event: 'assignment.decided' as const, payload: e.payload })));
    expect(await payable(env.db, first.find((e) => e.task_id === t0!.id)!.assignment_id)).toBe('-2');
    expect(await payable(env.db, second.find((e) => e.task_id === t2!.id)!.assignment_id)).toBe('-5');
  });

  test('verify on a one-annotation job: a lone disagreeing answer asks for a second, and two humans then decide by consensus', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 1, qa_policy: JSON.stringify({ prediction_mode: 'verify', prediction_threshold: 0.8 }) });
    await predict(env.db, job.tasks[0]!.id, 'cat', 0.95);
    const [a, b] = await workersOf(seed, 2);
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [a!], () => pick('dog')), env.clock.now());
    expect((await decisionsOf(env.db, job)).tasks).toEqual([]);
    expect((await eventsOf(env.db, 'task.overlap_requested', job.id)).map((e) => e.payload.required_annotations)).toEqual([2]);
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [b!], () => pick('dog')), env.clock.now());
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.method, t.result])).toEqual([['majority', pick('dog')]]);
    expect(assignments.map((d) => [d.kind, d.outcome])).toEqual([['annotation', 'accepted'], ['annotation', 'accepted']]);
  });

  test('verify through the real stack: a qualifying task opens ONE slot, one confirming answer decides it at the verify rate; below the threshold the overlap; a dispute reopens the overlap', async ({ app, env, seed }) => {
    const client = await seed.client();
    const draft = await seed.job(client, { overlap: 3, qa_policy: JSON.stringify({ prediction_mode: 'verify', prediction_threshold: 0.8 }), pay_policy: JSON.stringify({ verify_rate: 2 }) });
    const item = (id: string, confidence: number) => JSON.stringify({ external_id: id, data: { text: id }, prediction: { answer: pick('cat'), confidence } });
    const imported = await app.inject({ method: 'POST', url: `/v1/jobs/${draft.id}/tasks`, headers: { ...client.auth, 'content-type': 'application/x-ndjson' }, payload: [item('sure', 0.95), item('disputed', 0.9), item('unsure', 0.5)].join('\n') });
    expect(imported.json()).toMatchObject({ created: 3 });
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${draft.id}/activate`, headers: client.auth })).statusCode).toBe(200);
    const ids = new Map((await env.db.selectFrom('tasks').select(['id', 'external_id']).where('job_id', '=', draft.id).execute()).map((t) => [t.external_id!, Number(t.id)]));
    const [sure, disputed, unsure] = ['sure', 'disputed', 'unsure'].map((k) => ids.get(k)!) as [number, number, number];
    const [a, b, c] = await workersOf(seed, 3);

    // Claims until there is no work; each worker gets each task at most once.
    const claimAll = async (w: WorkerActor) => {
      const got: { id: number; task_id: number }[] = [];
      for (;;) {
        const r = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: w.auth });
        if (r.statusCode === 204) return got;
        expect(r.statusCode, r.body).toBe(200);
        got.push({ id: r.json().id, task_id: r.json().task_id });
      }
    };
    const answer = async (w: WorkerActor, claims: { id: number; task_id: number }[], label: (taskId: number) => string): Promise<Submitted[]> => {
      for (const cl of claims) {
        const r = await app.inject({ method: 'POST', url: `/v1/assignments/${cl.id}/submit`, headers: w.auth, payload: { answer: pick(label(cl.task_id)), time_spent_ms: 4000 } });
        expect(r.statusCode, r.body).toBe(200);
      }
      return claims.map((cl) => ({ assignment_id: cl.id, task_id: cl.task_id, job_id: draft.id, worker_id: w.workerId, vendor_id: w.vendorId }));
    };
    const slots = async () => new Map((await env.db.selectFrom('task_slots').select(['task_id', 'open_slots']).where('job_id', '=', draft.id).execute()).map((s) => [Number(s.task_id), s.open_slots]));

    // A takes one of each; the two verify tasks then have no slot left, the unsure one two.
    const byA = await claimAll(a!);
    expect(byA.map((x) => x.task_id).sort()).toEqual([sure, disputed, unsure].sort());
    expect(await slots()).toEqual(new Map([[sure, 0], [disputed, 0], [unsure, 2]]));
    const byB = await claimAll(b!);
    expect(byB.map((x) => x.task_id)).toEqual([unsure]);

    await decideSubmissions(env.db, [...(await answer(a!, byA, (t) => (t === disputed ? 'dog' : 'cat'))), ...(await answer(b!, byB, () => 'cat'))], env.clock.now());
    let { tasks, assignments } = await decisionsOf(env.db, draft);
    // `sure`: decided by A's one confirming answer, as verify work.
    expect(tasks.map((t) => [t.task_id, t.method, t.automated, t.result, t.annotations])).toEqual([[sure, 'automation', false, pick('cat'), 1]]);
    expect(assignments.map((d) => [d.task_id, d.kind, d.outcome])).toEqual([[sure, 'verify', 'accepted']]);
    // `disputed`: A disagreed, so QA asks task-dispatch for the job's overlap (3) and the slots reopen.
    const asked = (await eventsOf(env.db, 'task.overlap_requested', draft.id)).filter((e) => e.queue === 'task-dispatch').map((e) => e.payload);
    expect(asked).toEqual([{ task_id: disputed, job_id: draft.id, required_annotations: 3 }]);
    expect(await raiseRequiredAnnotations(env.db, asked[0]!)).toBe(true);
    expect(await slots()).toEqual(new Map([[sure, 0], [disputed, 2], [unsure, 1]]));

    // B and C take what is open; B agrees with the model on `disputed` and confirms it, A is judged against it.
    const byB2 = await claimAll(b!);
    expect(byB2.map((x) => x.task_id)).toEqual([disputed]);
    const byC = await claimAll(c!);
    expect(byC.map((x) => x.task_id).sort()).toEqual([disputed, unsure].sort());
    await decideSubmissions(env.db, [...(await answer(b!, byB2, () => 'cat')), ...(await answer(c!, byC, () => 'cat'))], env.clock.now());
    ({ tasks, assignments } = await decisionsOf(env.db, draft));
    expect(tasks.map((t) => [t.task_id, t.method, t.annotations])).toEqual([[sure, 'automation', 1], [disputed, 'automation', 3], [unsure, 'majority', 3]].sort((x, y) => Number(x[0]) - Number(y[0])));
    const of = (claims: { id: number; task_id: number }[], taskId: number) => assignments.filter((d) => Number(d.assignment_id) === claims.find((x) => x.task_id === taskId)!.id).map((d) => [d.kind, d.outcome]);
    expect(of(byA, disputed)).toEqual([['annotation', 'rejected']]);
    expect(of(byB2, disputed)).toEqual([['verify', 'accepted']]);
    expect(of(byC, disputed)).toEqual([['annotation', 'accepted']]);
    expect([of(byA, unsure), of(byB, unsure), of(byC, unsure)]).toEqual([[['annotation', 'accepted']], [['annotation', 'accepted']], [['annotation', 'accepted']]]);

    // Settlement: the verifiers at the verify rate (2), the annotators at pay per annotation (5).
    const events = (await eventsOf(env.db, 'assignment.decided', draft.id)).filter((e) => e.queue === 'settlement');
    await postSettlementEvents(env.db, events.map((e) => ({ event: 'assignment.decided' as const, payload: e.payload })));
    expect(await payable(env.db, byA.find((x) => x.task_id === sure)!.id)).toBe('-2');
    expect(await payable(env.db, byB2[0]!.id)).toBe('-2');
    expect(await payable(env.db, byC.find((x) => x.task_id === unsure)!.id)).toBe('-5');
    // task-dispatch closes the tasks and completes the job.
    for (const e of (await eventsOf(env.db, 'task.decided', draft.id)).filter((x) => x.queue === 'task-dispatch')) await onTaskDecided(env.db, e.payload);
    expect((await env.db.selectFrom('jobs').select('status').where('id', '=', draft.id).executeTakeFirstOrThrow()).status).toBe('completed');
  });

  test('assist: the claim shows the prediction as a pre-annotation, and the task is decided by the annotators', async ({ app, env, seed, worker }) => {
    const job = await seed.activeJob(1, { overlap: 1, qa_policy: JSON.stringify({ prediction_mode: 'assist', prediction_threshold: 0.5 }) });
    await predict(env.db, job.tasks[0]!.id, 'cat', 0.99);
    const claim = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
    expect(claim.statusCode, claim.body).toBe(200);
    expect(claim.json()).toMatchObject({ task_id: job.tasks[0]!.id, prediction: { value: pick('cat'), confidence: 0.99, model: 'resnet-7' } });
    const submitted = await app.inject({ method: 'POST', url: `/v1/assignments/${claim.json().id}/submit`, headers: worker.auth, payload: { answer: pick('dog'), time_spent_ms: 4000 } });
    expect(submitted.statusCode, submitted.body).toBe(200);
    await decideSubmissions(env.db, [{ assignment_id: claim.json().id, task_id: job.tasks[0]!.id, job_id: job.id, worker_id: worker.workerId, vendor_id: worker.vendorId }], env.clock.now());
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.method, t.automated, t.result])).toEqual([['majority', false, pick('dog')]]);
    expect(assignments.map((d) => [d.kind, d.outcome])).toEqual([['annotation', 'accepted']]);
  });
});
