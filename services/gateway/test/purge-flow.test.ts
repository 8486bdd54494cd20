import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import type { Actor } from '@fairlabel/testing';
import { stackTest, until } from './helpers.js';

// A client's data purge end to end, as the stack runs it: the gateway takes the request, the outbox
// relay moves task-dispatch's `job.data_purge_requested` to worker-assignment's consumer, which erases
// the answers it owns and reports `job.answers_purged` back through the relay to task-dispatch's
// consumer, which completes the purge the client reads.

const test = stackTest
  .extend('call', async ({ app, client }) => (method: 'GET' | 'POST' | 'DELETE', url: string, who: Actor = client) => app.inject({ method, url, headers: who.auth }))
  .extend('purgeState', async ({ call }) => (jobId: string) => call('GET', `/v1/jobs/${jobId}/data-purge`).then((r) => r.json()))
  .extend('eventsOf', async ({ env }) => async (event: string, jobId: string) =>
    (await env.db.selectFrom('outbox').select(['payload', 'sent_at']).where('event', '=', event).execute()).filter((r) => (r.payload as { job_id: string }).job_id === jobId),
  )
  /** An active job of `client` with an answer of `worker` on each task, cancelled by its client through the API. */
  .extend('cancelledJobWithAnswers', async ({ seed, client, worker, call }) => async (tasks: number) => {
    const job = await seed.job(client, { status: 'active' });
    const rows = await seed.tasks(job.id, tasks, { payload: (i) => ({ text: `someone's data ${i}` }) });
    await seed.answers(rows, worker, { status: 'submitted' });
    const cancelled = await call('POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    return job;
  });

describe('data purge through the relay and both consumers', () => {
  test('is pending until worker-assignment has erased the answers, then completed with their count', async ({ env, call, purgeState, eventsOf, cancelledJobWithAnswers }) => {
    const job = await cancelledJobWithAnswers(3);
    const requested = await call('DELETE', `/v1/jobs/${job.id}/data`);
    expect(requested.statusCode, requested.body).toBe(202);
    expect(requested.json()).toMatchObject({ status: 'pending', tasks_purged: 3, assignments_purged: null, already_requested: false });

    const done = await until(() => purgeState(job.id), (s) => s.status === 'completed');
    expect(done).toMatchObject({ job_id: job.id, status: 'completed', tasks_purged: 3, assignments_purged: 3, completed_at: expect.any(String) });

    const assignments = await env.db.selectFrom('assignments').select(['answer', 'status']).where('job_id', '=', job.id).execute();
    expect(assignments).toEqual(Array.from({ length: 3 }, () => ({ answer: null, status: 'submitted' })));
    const tasks = await env.db.selectFrom('tasks').select(['payload', 'status']).where('job_id', '=', job.id).execute();
    expect(tasks).toEqual(Array.from({ length: 3 }, () => ({ payload: null, status: 'cancelled' })));
    const exported = await call('GET', `/v1/jobs/${job.id}/results?format=jsonl&include=annotations`);
    const lines = exported.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.flatMap((l) => l.annotations.map((a: { answer: unknown }) => a.answer))).toEqual([null, null, null]);

    // A second request once done: 200 with the completed state, and no second request event.
    const again = await call('DELETE', `/v1/jobs/${job.id}/data`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...done, already_requested: true });
    expect(await eventsOf('job.data_purge_requested', job.id)).toHaveLength(1);
  });

  test('redelivered request and report events change nothing', async ({ env, client, call, purgeState, eventsOf, cancelledJobWithAnswers }) => {
    const job = await cancelledJobWithAnswers(2);
    expect((await call('DELETE', `/v1/jobs/${job.id}/data`)).statusCode).toBe(202);
    const done = await until(() => purgeState(job.id), (s) => s.status === 'completed');
    expect(done.assignments_purged).toBe(2);

    // Both events again, as after a relay that died between publishing and marking its batch sent.
    const waQueue = new Queue('worker-assignment', { connection: env.redis, prefix: env.prefix });
    const tdQueue = new Queue('task-dispatch', { connection: env.redis, prefix: env.prefix });
    try {
      const request = await waQueue.add('job.data_purge_requested', { job_id: job.id, client_id: client.organizationId }, { jobId: `again-request-${job.id}` });
      const report = await tdQueue.add('job.answers_purged', { job_id: job.id, client_id: client.organizationId, assignments_purged: 0 }, { jobId: `again-report-${job.id}` });
      await until(() => Promise.all([request.getState(), report.getState()]), (states) => states.every((s) => s === 'completed'));
    } finally {
      await waQueue.close();
      await tdQueue.close();
    }
    expect(await purgeState(job.id)).toEqual(done);
    expect(await eventsOf('job.answers_purged', job.id)).toHaveLength(1);
  });

  test("keeps another client's purge invisible: 404 to read or request it", async ({ seed, call, purgeState, cancelledJobWithAnswers }) => {
    const job = await cancelledJobWithAnswers(1);
    expect((await call('DELETE', `/v1/jobs/${job.id}/data`)).statusCode).toBe(202);
    const other = await seed.client();
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await call(method, method === 'GET' ? `/v1/jobs/${job.id}/data-purge` : `/v1/jobs/${job.id}/data`, other);
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    await until(() => purgeState(job.id), (s) => s.status === 'completed');
  });
});
