import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { buildGateway } from '../src/app.js';

// Issue 8, first finding: a worker holding a lease could submit after the client cancelled the job
// and purged its data, and the answer was stored. Across two services, so tested through the gateway.
let env: TestEnv;
let app: AppInstance;
beforeAll(async () => {
  env = await createTestEnv();
  app = await buildGateway(env);
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await env.close();
});

async function leaseOnNewJob(): Promise<{ client: Actor; worker: WorkerActor; jobId: string; assignmentId: number }> {
  const client = await newClient(env.db);
  const job = await newJob(env.db, client.organizationId, { status: 'active' });
  await newTasks(env.db, job.id, 1);
  const vendor = await newVendor(env.db);
  const worker = await newWorker(env.db, vendor.organizationId);
  // Only this job: claims must not land on other tests' jobs.
  await env.db.updateTable('jobs').set({ status: 'paused' }).where('status', '=', 'active').where('id', '<>', job.id).execute();
  const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
  expect(claimed.statusCode, claimed.body).toBe(200);
  expect(claimed.json().job_id).toBe(job.id);
  return { client, worker, jobId: job.id, assignmentId: claimed.json().id };
}

const submit = (worker: WorkerActor, id: number, answer: unknown = { label: 'cat' }) =>
  app.inject({ method: 'POST', url: `/v1/assignments/${id}/submit`, headers: worker.auth, payload: { answer, time_spent_ms: 1000 } });

describe('cancel → purge → submit', () => {
  it('a lease held when the job was cancelled and purged cannot bring data back in: 409 task_closed, nothing stored', async () => {
    const { client, worker, jobId, assignmentId } = await leaseOnNewJob();
    const cancelled = await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: client.auth });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const purged = await app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}/data`, headers: client.auth });
    expect(purged.statusCode, purged.body).toBe(200);

    const late = await submit(worker, assignmentId);
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json().error.code).toBe('task_closed');
    const row = await env.db.selectFrom('assignments').select(['status', 'answer']).where('id', '=', assignmentId).executeTakeFirstOrThrow();
    expect(row.answer).toBeNull();
    expect(row.status).not.toBe('submitted');
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.submitted').execute();
    expect(events.filter((e) => (e.payload as { assignment_id: number }).assignment_id === assignmentId)).toEqual([]);
  });

  it('the checked path refuses too: an answer the one-statement path cannot take (\\u0000) is 409 task_closed, not 422', async () => {
    const { client, worker, jobId, assignmentId } = await leaseOnNewJob();
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: client.auth })).statusCode).toBe(200);
    const late = await submit(worker, assignmentId, { label: 'c\u0000t' });
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json().error.code).toBe('task_closed');
  });
});
