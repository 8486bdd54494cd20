import { type Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInstance } from '@fairlabel/http';
import { OutboxRelay } from '@fairlabel/queues';
import { startTaskDispatchConsumers } from '@fairlabel/task-dispatch/consumers';
import { createTestEnv, newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import { createWorkerAssignmentConsumer } from '@fairlabel/worker-assignment/consumers';
import { buildGateway } from '../src/app.js';

// Issue 8, first finding: a worker holding a lease could submit after the client cancelled the job
// and purged its data, and the answer was stored. Across services and events, so run as the stack
// runs it: the gateway, the outbox relay and both services' consumers.
let env: TestEnv;
let app: AppInstance;
let relay: OutboxRelay;
let workers: Worker[];
beforeAll(async () => {
  env = await createTestEnv();
  app = await buildGateway(env);
  await app.ready();
  relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
  await relay.start();
  workers = [...(await startTaskDispatchConsumers(env)).workers, createWorkerAssignmentConsumer(env, env.redis)];
});
afterAll(async () => {
  await relay.stop();
  await Promise.all(workers.map((w) => w.close()));
  await app.close();
  await env.close();
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in time; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function leaseOnNewJob(): Promise<{ client: Actor; worker: WorkerActor; jobId: string; assignmentId: number }> {
  const client = await newClient(env.db);
  const job = await newJob(env.db, client.organizationId, { status: 'active' });
  await newTasks(env.db, job.id, 1);
  const worker = await newWorker(env.db, (await newVendor(env.db)).organizationId);
  // Only this job: claims must not land on other tests' jobs.
  await env.db.updateTable('jobs').set({ status: 'paused' }).where('status', '=', 'active').where('id', '<>', job.id).execute();
  const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
  expect(claimed.statusCode, claimed.body).toBe(200);
  expect(claimed.json().job_id).toBe(job.id);
  return { client, worker, jobId: job.id, assignmentId: claimed.json().id };
}

const submit = (worker: WorkerActor, id: number, answer: unknown = { label: 'cat' }) =>
  app.inject({ method: 'POST', url: `/v1/assignments/${id}/submit`, headers: worker.auth, payload: { answer, time_spent_ms: 1000 } });
const assignment = (id: number) => env.db.selectFrom('assignments').select(['status', 'answer', 'release_reason']).where('id', '=', id).executeTakeFirstOrThrow();
const submittedEvents = async (id: number) =>
  (await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.submitted').execute()).filter((e) => (e.payload as { assignment_id: number }).assignment_id === id);

describe('cancel → purge → submit', () => {
  it('a lease held when the job was cancelled and purged cannot bring data back in: 409 task_closed, nothing stored', async () => {
    const { client, worker, jobId, assignmentId } = await leaseOnNewJob();
    const cancelled = await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: client.auth });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const purge = await app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}/data`, headers: client.auth });
    expect(purge.statusCode, purge.body).toBe(202);

    // While the purge is pending, and once it completed.
    const early = await submit(worker, assignmentId);
    expect(early.statusCode, early.body).toBe(409);
    expect(early.json().error.code).toBe('task_closed');
    await until(
      () => app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/data-purge`, headers: client.auth }).then((r) => r.json()),
      (s) => s.status === 'completed',
    );
    const late = await submit(worker, assignmentId);
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json().error.code).toBe('task_closed');

    // The job.cancelled consumer (or the purge) ended the lease; no answer, no event.
    const row = await until(() => assignment(assignmentId), (a) => a.status === 'released');
    expect(row.answer).toBeNull();
    expect(['job_cancelled', 'job_data_purged']).toContain(row.release_reason);
    expect(await submittedEvents(assignmentId)).toEqual([]);
  });

  it('the job.cancelled event ends the lease through the relay; the holder is told on heartbeat and submit', async () => {
    const { client, worker, jobId, assignmentId } = await leaseOnNewJob();
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: client.auth })).statusCode).toBe(200);
    expect(await until(() => assignment(assignmentId), (a) => a.status === 'released')).toEqual({ status: 'released', answer: null, release_reason: 'job_cancelled' });
    const hb = await app.inject({ method: 'POST', url: `/v1/assignments/${assignmentId}/heartbeat`, headers: worker.auth });
    expect([hb.statusCode, hb.json().error.code]).toEqual([409, 'task_closed']);
    // The ordered checks (an answer the one-statement path cannot take) answer the same.
    const res = await submit(worker, assignmentId, { label: 'c\u0000t' });
    expect([res.statusCode, res.json().error.code]).toEqual([409, 'task_closed']);
    expect(await submittedEvents(assignmentId)).toEqual([]);
  });
});
