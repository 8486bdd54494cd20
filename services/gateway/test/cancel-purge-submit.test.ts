import { describe, expect } from 'vitest';
import type { Actor, WorkerActor } from '@fairlabel/testing';
import { stackTest, until } from './helpers.js';

// Issue 8, first finding: a worker holding a lease could submit after the client cancelled the job
// and purged its data, and the answer was stored. Across services and events, so run as the stack
// runs it: the gateway, the outbox relay and both services' consumers.

const test = stackTest
  /** A client's active job of one task, leased by a worker of a new vendor. */
  .extend('leaseOnNewJob', async ({ app, seed }) => async (): Promise<{ client: Actor; worker: WorkerActor; jobId: string; assignmentId: number }> => {
    const { owner: client, ...job } = await seed.activeJob(1);
    const { worker } = await seed.vendorWithWorker();
    const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
    expect(claimed.statusCode, claimed.body).toBe(200);
    expect(claimed.json().job_id).toBe(job.id);
    return { client, worker, jobId: job.id, assignmentId: claimed.json().id };
  })
  .extend('submit', async ({ app }) => (worker: WorkerActor, id: number, answer: unknown = { label: { choices: ['cat'] } }) =>
    app.inject({ method: 'POST', url: `/v1/assignments/${id}/submit`, headers: worker.auth, payload: { answer, time_spent_ms: 1000 } }),
  )
  .extend('assignment', async ({ env }) => (id: number) => env.db.selectFrom('assignments').select(['status', 'answer', 'release_reason']).where('id', '=', id).executeTakeFirstOrThrow())
  .extend('submittedEvents', async ({ env }) => async (id: number) =>
    (await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.submitted').execute()).filter((e) => (e.payload as { assignment_id: number }).assignment_id === id),
  );

describe('cancel → purge → submit', () => {
  test('a lease held when the job was cancelled and purged cannot bring data back in: 409 task_closed, nothing stored', async ({ app, leaseOnNewJob, submit, assignment, submittedEvents }) => {
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

  test('the job.cancelled event ends the lease through the relay; the holder is told on heartbeat and submit', async ({ app, leaseOnNewJob, submit, assignment, submittedEvents }) => {
    const { client, worker, jobId, assignmentId } = await leaseOnNewJob();
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: client.auth })).statusCode).toBe(200);
    expect(await until(() => assignment(assignmentId), (a) => a.status === 'released')).toEqual({ status: 'released', answer: null, release_reason: 'job_cancelled' });
    const hb = await app.inject({ method: 'POST', url: `/v1/assignments/${assignmentId}/heartbeat`, headers: worker.auth });
    expect([hb.statusCode, hb.json().error.code]).toEqual([409, 'task_closed']);
    // The ordered checks (an answer the one-statement path cannot take) answer the same.
    const res = await submit(worker, assignmentId, { label: { choices: ['c\u0000t'] } });
    expect([res.statusCode, res.json().error.code]).toEqual([409, 'task_closed']);
    expect(await submittedEvents(assignmentId)).toEqual([]);
  });
});
