import { describe, expect } from 'vitest';
import type { TestEnv, WorkerActor } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { queuesFor } from '@fairlabel/contracts';
import { createWorkerAssignmentConsumer, workerAssignmentHandlers } from '../src/worker-assignment.consumer.js';
import { claim, lease, submit, test } from './helpers.js';

// When a lease may no longer take an answer: the job cancelled (and its leases ended by the
// job.cancelled consumer), the task decided, the worker or their skill suspended (issues 8 and 9).
const heartbeat = (app: AppInstance, who: WorkerActor, id: number) => lease(app, who, id, 'heartbeat');
const errorOf = (res: { statusCode: number; json: () => { error: { code: string } } }) => [res.statusCode, res.json().error.code];

/** What task-dispatch's cancel does to the rows (jobs.service.ts transitionJob): the job and its open tasks cancelled. */
async function cancelAsTaskDispatchDoes(env: TestEnv, jobId: string) {
  await env.db.updateTable('jobs').set({ status: 'cancelled', cancelled_at: env.clock.now() }).where('id', '=', jobId).execute();
  await env.db.updateTable('tasks').set({ status: 'cancelled' }).where('job_id', '=', jobId).where('status', '=', 'open').execute();
}

const deliverJobCancelled = (env: TestEnv, jobId: string, clientId: string) =>
  workerAssignmentHandlers(env)['job.cancelled']!({ job_id: jobId, client_id: clientId }, { jobId: 'test', attempt: 1, log: env.logger });

async function stored(env: TestEnv, id: number) {
  return env.db.selectFrom('assignments').select(['status', 'answer', 'release_reason', 'ended_at']).where('id', '=', id).executeTakeFirstOrThrow();
}

describe('a cancelled job', () => {
  test('the worker-assignment queue subscribes to job.cancelled and its consumer handles it', async ({ env }) => {
    expect(queuesFor('job.cancelled')).toContain('worker-assignment');
    const consumer = createWorkerAssignmentConsumer(env, env.redis.duplicate({ maxRetriesPerRequest: null }));
    await consumer.close();
  });

  test('refuses submit and heartbeat with 409 task_closed at once, before its leases are ended; nothing is stored', async ({ app, env, seed }) => {
    const job = await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const a = (await claim(app, worker)).json();
    await cancelAsTaskDispatchDoes(env, job.id);
    expect(errorOf(await submit(app, worker, a.id))).toEqual([409, 'task_closed']);
    expect((await submit(app, worker, a.id)).json().error.message).toContain('cancelled');
    // The ordered checks (an answer the one-statement path cannot take) say the same.
    expect(errorOf(await submit(app, worker, a.id, { label: { choices: ['c\u0000t'] } }))).toEqual([409, 'task_closed']);
    expect(errorOf(await heartbeat(app, worker, a.id))).toEqual([409, 'task_closed']);
    expect(await stored(env, a.id)).toMatchObject({ status: 'leased', answer: null });
  });

  test('job.cancelled ends its live leases (released, reason job_cancelled, event), gives the slots and the vendor usage back, and leaves other rows alone', async ({ app, env, seed }) => {
    const { owner: client, tasks, ...job } = await seed.activeJob(2, { overlap: 2 });
    const { vendor, worker } = await seed.vendorWithWorker();
    await env.db.updateTable('jobs').set({ vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 1 }) }).where('id', '=', job.id).execute();
    const colleague = await seed.worker(vendor);
    const done = (await claim(app, colleague)).json();
    expect((await submit(app, colleague, done.id)).statusCode).toBe(200);
    const live = [(await claim(app, worker)).json(), (await claim(app, worker)).json()];
    expect(live.map((a) => a.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
    const other = await seed.activeJob(1, { priority: 10 });
    const unrelated = (await claim(app, colleague)).json();
    expect(unrelated.job_id).toBe(other.id);
    const usage = () => env.db.selectFrom('job_vendor_usage').select('held').where('job_id', '=', job.id).executeTakeFirstOrThrow();
    expect((await usage()).held).toBe(3);

    await cancelAsTaskDispatchDoes(env, job.id);
    await deliverJobCancelled(env, job.id, client.organizationId);

    for (const a of live) expect(await stored(env, a.id)).toMatchObject({ status: 'released', release_reason: 'job_cancelled', answer: null, ended_at: expect.any(Date) });
    expect((await stored(env, done.id)).status).toBe('submitted');
    expect((await stored(env, unrelated.id)).status).toBe('leased');
    expect((await usage()).held).toBe(1);
    const slots = await env.db.selectFrom('task_slots').select('open_slots').where('job_id', '=', job.id).execute();
    expect(slots.map((s) => s.open_slots)).toEqual([0, 0]);
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.released').where('queue', '=', 'worker-assignment').execute();
    const released = events.map((e) => e.payload as { assignment_id: number; reason: string }).filter((p) => live.some((a) => a.id === p.assignment_id));
    expect(released.map((p) => p.reason)).toEqual(['job_cancelled', 'job_cancelled']);

    // The holder is told on the next heartbeat, submit or release.
    expect(errorOf(await heartbeat(app, worker, live[0].id))).toEqual([409, 'task_closed']);
    expect(errorOf(await submit(app, worker, live[0].id))).toEqual([409, 'task_closed']);
    expect(errorOf(await lease(app, worker, live[1].id, 'release', { reason: 'skip' }))).toEqual([409, 'task_closed']);

    // A second delivery changes nothing; a job that is not cancelled is never touched.
    const outboxBefore = await env.db.selectFrom('outbox').select('id').execute();
    await deliverJobCancelled(env, job.id, client.organizationId);
    await deliverJobCancelled(env, other.id, other.owner.organizationId);
    expect(await env.db.selectFrom('outbox').select('id').execute()).toHaveLength(outboxBefore.length);
    expect((await stored(env, unrelated.id)).status).toBe('leased');
  });
});

describe('a data purge', () => {
  test('ends the leases the job.cancelled event has not ended yet before it erases the answers', async ({ app, env, seed }) => {
    const { owner: client, ...job } = await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const a = (await claim(app, worker)).json();
    await cancelAsTaskDispatchDoes(env, job.id);
    await workerAssignmentHandlers(env)['job.data_purge_requested']!({ job_id: job.id, client_id: client.organizationId }, { jobId: 'test', attempt: 1, log: env.logger });
    expect(await stored(env, a.id)).toMatchObject({ status: 'released', release_reason: 'job_data_purged', answer: null });
    expect(errorOf(await submit(app, worker, a.id))).toEqual([409, 'task_closed']);
    // The job.cancelled event arriving afterwards finds nothing left to end.
    const outboxBefore = await env.db.selectFrom('outbox').select('id').execute();
    await deliverJobCancelled(env, job.id, client.organizationId);
    expect(await env.db.selectFrom('outbox').select('id').execute()).toHaveLength(outboxBefore.length);
  });
});

describe('other reasons a lease can no longer take an answer', () => {
  test('a task decided while the lease was live: 409 task_closed', async ({ app, env, seed }) => {
    const { tasks } = await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('tasks').set({ status: 'decided', decided_at: env.clock.now() }).where('id', '=', tasks[0]!.id).execute();
    const res = await submit(app, worker, a.id);
    expect(errorOf(res)).toEqual([409, 'task_closed']);
    expect(res.json().error.message).toContain('decided');
  });

  test('a paused job still takes the answer of a lease granted before the pause (pausing stops new claims only)', async ({ app, env, seed }) => {
    const job = await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('jobs').set({ status: 'paused' }).where('id', '=', job.id).execute();
    expect((await heartbeat(app, worker, a.id)).statusCode).toBe(200);
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
  });

  test('a worker their vendor suspended cannot submit or extend a lease they already held: 403 worker_suspended', async ({ app, env, seed }) => {
    await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('workers').set({ status: 'suspended' }).where('id', '=', worker.workerId).execute();
    expect(errorOf(await submit(app, worker, a.id))).toEqual([403, 'worker_suspended']);
    expect(errorOf(await submit(app, worker, a.id, { label: { choices: ['c\u0000t'] } }))).toEqual([403, 'worker_suspended']);
    expect(errorOf(await heartbeat(app, worker, a.id))).toEqual([403, 'worker_suspended']);
    expect(await stored(env, a.id)).toMatchObject({ status: 'leased', answer: null });
    // Reinstated, the same lease can be submitted.
    await env.db.updateTable('workers').set({ status: 'active' }).where('id', '=', worker.workerId).execute();
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
  });

  test("a worker suspended from the job's skill cannot submit a lease they already held: 403 skill_suspended", async ({ app, env, seed }) => {
    await seed.activeJob(1, { required_skill: 'ner', min_level: 2 });
    const { worker } = await seed.vendorWithWorker({ skills: { ner: 3, other: 1 } });
    const a = (await claim(app, worker)).json();
    // Suspended from another skill: no effect.
    await env.db.updateTable('worker_skills').set({ suspended_at: env.clock.now() }).where('worker_id', '=', worker.workerId).where('skill', '=', 'other').execute();
    expect((await heartbeat(app, worker, a.id)).statusCode).toBe(200);
    await env.db.updateTable('worker_skills').set({ suspended_at: env.clock.now() }).where('worker_id', '=', worker.workerId).where('skill', '=', 'ner').execute();
    const res = await submit(app, worker, a.id);
    expect(errorOf(res)).toEqual([403, 'skill_suspended']);
    expect(res.json().error.message).toContain('ner');
    expect(errorOf(await heartbeat(app, worker, a.id))).toEqual([403, 'skill_suspended']);
    expect(await stored(env, a.id)).toMatchObject({ status: 'leased', answer: null });
  });
});

describe('a worker suspended from one job (QA: a job without a required skill)', () => {
  const suspended = (env: TestEnv, w: WorkerActor, jobId: string) =>
    workerAssignmentHandlers(env)['worker.job_suspended']!(
      { worker_id: w.workerId, vendor_id: w.vendorId, job_id: jobId, evidence: { reason: '0/5 gold correct on this job', scope: 'job', gold_total: 5, gold_correct: 0 } },
      { jobId: 'test', attempt: 1, log: env.logger },
    );

  test('cannot claim that job, nor submit or extend a lease on it (403 job_suspended); still claims another job without a skill; others still claim it', async ({ app, env, seed }) => {
    expect(queuesFor('worker.job_suspended')).toContain('worker-assignment');
    const a = await seed.activeJob(2, { overlap: 1, priority: 10 });
    const b = await seed.activeJob(1, { overlap: 1 });
    const { vendor, worker } = await seed.vendorWithWorker();
    const held = (await claim(app, worker)).json();
    expect(held.job_id).toBe(a.id);

    await suspended(env, worker, a.id);
    await suspended(env, worker, a.id); // redelivered: one block
    const blocks = await env.db.selectFrom('worker_job_blocks').selectAll().where('worker_id', '=', worker.workerId).execute();
    expect(blocks.map((x) => [x.job_id, x.reason, x.evidence.gold_total])).toEqual([[a.id, '0/5 gold correct on this job', 5]]);

    const res = await submit(app, worker, held.id);
    expect(errorOf(res)).toEqual([403, 'job_suspended']);
    // The ordered checks (an answer the one-statement path cannot take) say the same.
    expect(errorOf(await submit(app, worker, held.id, { label: { choices: ['c\u0000t'] } }))).toEqual([403, 'job_suspended']);
    expect(errorOf(await heartbeat(app, worker, held.id))).toEqual([403, 'job_suspended']);
    expect(await stored(env, held.id)).toMatchObject({ status: 'leased', answer: null });

    // A's second task is open and outranks B's, but the claim passes A over: B, then nothing.
    const next = await claim(app, worker);
    expect(next.statusCode, next.body).toBe(200);
    expect([next.json().job_id, next.json().task_id]).toEqual([b.id, b.tasks[0]!.id]);
    expect((await claim(app, worker)).statusCode).toBe(204);
    expect((await submit(app, worker, next.json().id)).statusCode).toBe(200);
    // The block is the worker's alone: a colleague claims A's open task.
    const colleague = await seed.worker(vendor);
    expect((await claim(app, colleague)).json()).toMatchObject({ job_id: a.id, task_id: a.tasks[1]!.id });
  });
});
