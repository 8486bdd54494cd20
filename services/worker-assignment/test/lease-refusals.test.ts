import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, newWorker, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { queuesFor } from '@fairlabel/contracts';
import { workerAssignmentRoutes } from '../src/index.js';
import { createWorkerAssignmentConsumer, workerAssignmentHandlers } from '../src/worker-assignment.consumer.js';
import { activeJob, claim, pauseAllJobs, submit, vendorWithWorker } from './helpers.js';

// When a lease may no longer take an answer: the job cancelled (and its leases ended by the
// job.cancelled consumer), the task decided, the worker or their skill suspended (issues 8 and 9).
let env: TestEnv;
let app: AppInstance;
beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [workerAssignmentRoutes]);
});
afterAll(async () => {
  await app.close();
  await env.close();
});
beforeEach(() => pauseAllJobs(env));

const post = (url: string, who: WorkerActor, payload?: Record<string, unknown>) =>
  payload === undefined ? app.inject({ method: 'POST', url, headers: who.auth }) : app.inject({ method: 'POST', url, headers: who.auth, payload });
const heartbeat = (who: WorkerActor, id: number) => post(`/v1/assignments/${id}/heartbeat`, who);
const errorOf = (res: { statusCode: number; json: () => { error: { code: string } } }) => [res.statusCode, res.json().error.code];

/** What task-dispatch's cancel does to the rows (jobs.service.ts transitionJob): the job and its open tasks cancelled. */
async function cancelAsTaskDispatchDoes(jobId: string) {
  await env.db.updateTable('jobs').set({ status: 'cancelled', cancelled_at: env.clock.now() }).where('id', '=', jobId).execute();
  await env.db.updateTable('tasks').set({ status: 'cancelled' }).where('job_id', '=', jobId).where('status', '=', 'open').execute();
}

const deliverJobCancelled = (jobId: string, clientId: string) =>
  workerAssignmentHandlers(env)['job.cancelled']!({ job_id: jobId, client_id: clientId }, { jobId: 'test', attempt: 1, log: env.logger });

async function stored(id: number) {
  return env.db.selectFrom('assignments').select(['status', 'answer', 'release_reason', 'ended_at']).where('id', '=', id).executeTakeFirstOrThrow();
}

describe('a cancelled job', () => {
  it('the worker-assignment queue subscribes to job.cancelled and its consumer handles it', async () => {
    expect(queuesFor('job.cancelled')).toContain('worker-assignment');
    const consumer = createWorkerAssignmentConsumer(env, env.redis.duplicate({ maxRetriesPerRequest: null }));
    await consumer.close();
  });

  it('refuses submit and heartbeat with 409 task_closed at once, before its leases are ended; nothing is stored', async () => {
    const { job } = await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    await cancelAsTaskDispatchDoes(job.id);
    expect(errorOf(await submit(app, worker, a.id))).toEqual([409, 'task_closed']);
    expect((await submit(app, worker, a.id)).json().error.message).toContain('cancelled');
    // The ordered checks (an answer the one-statement path cannot take) say the same.
    expect(errorOf(await submit(app, worker, a.id, { label: 'c\u0000t' }))).toEqual([409, 'task_closed']);
    expect(errorOf(await heartbeat(worker, a.id))).toEqual([409, 'task_closed']);
    expect(await stored(a.id)).toMatchObject({ status: 'leased', answer: null });
  });

  it('job.cancelled ends its live leases (released, reason job_cancelled, event), gives the slots and the vendor usage back, and leaves other rows alone', async () => {
    const { job, client, tasks } = await activeJob(env, 2, { overlap: 2 });
    const { vendor, worker } = await vendorWithWorker(env);
    await env.db.updateTable('jobs').set({ vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 1 }) }).where('id', '=', job.id).execute();
    const colleague = await newWorker(env.db, vendor.organizationId);
    const done = (await claim(app, colleague)).json();
    expect((await submit(app, colleague, done.id)).statusCode).toBe(200);
    const live = [(await claim(app, worker)).json(), (await claim(app, worker)).json()];
    expect(live.map((a) => a.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
    const other = await activeJob(env, 1, { priority: 10 });
    const unrelated = (await claim(app, colleague)).json();
    expect(unrelated.job_id).toBe(other.job.id);
    const usage = () => env.db.selectFrom('job_vendor_usage').select('held').where('job_id', '=', job.id).executeTakeFirstOrThrow();
    expect((await usage()).held).toBe(3);

    await cancelAsTaskDispatchDoes(job.id);
    await deliverJobCancelled(job.id, client.organizationId);

    for (const a of live) expect(await stored(a.id)).toMatchObject({ status: 'released', release_reason: 'job_cancelled', answer: null, ended_at: expect.any(Date) });
    expect((await stored(done.id)).status).toBe('submitted');
    expect((await stored(unrelated.id)).status).toBe('leased');
    expect((await usage()).held).toBe(1);
    const slots = await env.db.selectFrom('task_slots').select('open_slots').where('job_id', '=', job.id).execute();
    expect(slots.map((s) => s.open_slots)).toEqual([0, 0]);
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.released').where('queue', '=', 'worker-assignment').execute();
    const released = events.map((e) => e.payload as { assignment_id: number; reason: string }).filter((p) => live.some((a) => a.id === p.assignment_id));
    expect(released.map((p) => p.reason)).toEqual(['job_cancelled', 'job_cancelled']);

    // The holder is told on the next heartbeat, submit or release.
    expect(errorOf(await heartbeat(worker, live[0].id))).toEqual([409, 'task_closed']);
    expect(errorOf(await submit(app, worker, live[0].id))).toEqual([409, 'task_closed']);
    expect(errorOf(await post(`/v1/assignments/${live[1].id}/release`, worker, { reason: 'skip' }))).toEqual([409, 'task_closed']);

    // A second delivery changes nothing; a job that is not cancelled is never touched.
    const outboxBefore = await env.db.selectFrom('outbox').select('id').execute();
    await deliverJobCancelled(job.id, client.organizationId);
    await deliverJobCancelled(other.job.id, other.client.organizationId);
    expect(await env.db.selectFrom('outbox').select('id').execute()).toHaveLength(outboxBefore.length);
    expect((await stored(unrelated.id)).status).toBe('leased');
  });
});

describe('a data purge', () => {
  it('ends the leases the job.cancelled event has not ended yet before it erases the answers', async () => {
    const { job, client } = await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    await cancelAsTaskDispatchDoes(job.id);
    await workerAssignmentHandlers(env)['job.data_purge_requested']!({ job_id: job.id, client_id: client.organizationId }, { jobId: 'test', attempt: 1, log: env.logger });
    expect(await stored(a.id)).toMatchObject({ status: 'released', release_reason: 'job_data_purged', answer: null });
    expect(errorOf(await submit(app, worker, a.id))).toEqual([409, 'task_closed']);
    // The job.cancelled event arriving afterwards finds nothing left to end.
    const outboxBefore = await env.db.selectFrom('outbox').select('id').execute();
    await deliverJobCancelled(job.id, client.organizationId);
    expect(await env.db.selectFrom('outbox').select('id').execute()).toHaveLength(outboxBefore.length);
  });
});

describe('other reasons a lease can no longer take an answer', () => {
  it('a task decided while the lease was live: 409 task_closed', async () => {
    const { tasks } = await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('tasks').set({ status: 'decided', decided_at: env.clock.now() }).where('id', '=', tasks[0]!.id).execute();
    const res = await submit(app, worker, a.id);
    expect(errorOf(res)).toEqual([409, 'task_closed']);
    expect(res.json().error.message).toContain('decided');
  });

  it('a paused job still takes the answer of a lease granted before the pause (pausing stops new claims only)', async () => {
    const { job } = await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('jobs').set({ status: 'paused' }).where('id', '=', job.id).execute();
    expect((await heartbeat(worker, a.id)).statusCode).toBe(200);
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
  });

  it('a worker their vendor suspended cannot submit or extend a lease they already held: 403 worker_suspended', async () => {
    await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    await env.db.updateTable('workers').set({ status: 'suspended' }).where('id', '=', worker.workerId).execute();
    expect(errorOf(await submit(app, worker, a.id))).toEqual([403, 'worker_suspended']);
    expect(errorOf(await submit(app, worker, a.id, { label: 'c\u0000t' }))).toEqual([403, 'worker_suspended']);
    expect(errorOf(await heartbeat(worker, a.id))).toEqual([403, 'worker_suspended']);
    expect(await stored(a.id)).toMatchObject({ status: 'leased', answer: null });
    // Reinstated, the same lease can be submitted.
    await env.db.updateTable('workers').set({ status: 'active' }).where('id', '=', worker.workerId).execute();
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
  });

  it("a worker suspended from the job's skill cannot submit a lease they already held: 403 skill_suspended", async () => {
    await activeJob(env, 1, { required_skill: 'ner', min_level: 2 });
    const { worker } = await vendorWithWorker(env, { skills: { ner: 3, other: 1 } });
    const a = (await claim(app, worker)).json();
    // Suspended from another skill: no effect.
    await env.db.updateTable('worker_skills').set({ suspended_at: env.clock.now() }).where('worker_id', '=', worker.workerId).where('skill', '=', 'other').execute();
    expect((await heartbeat(worker, a.id)).statusCode).toBe(200);
    await env.db.updateTable('worker_skills').set({ suspended_at: env.clock.now() }).where('worker_id', '=', worker.workerId).where('skill', '=', 'ner').execute();
    const res = await submit(app, worker, a.id);
    expect(errorOf(res)).toEqual([403, 'skill_suspended']);
    expect(res.json().error.message).toContain('ner');
    expect(errorOf(await heartbeat(worker, a.id))).toEqual([403, 'skill_suspended']);
    expect(await stored(a.id)).toMatchObject({ status: 'leased', answer: null });
  });
});
