import { describe, expect } from 'vitest';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { purgeRoutes } from '../src/purge.routes.js';
import { onAnswersPurged } from '../src/task-dispatch.consumer.js';
import { someRoutes } from './helpers.js';

// task-dispatch's half of a data purge: the request (task data erased, one event asking
// worker-assignment for the answers), the state a client reads, and the report that completes it.
// The whole chain through the relay and both services' consumers is in gateway/test/purge-flow.test.ts.

const test = integrationTest({ app: [someRoutes('purge', purgeRoutes)] })
  /** A cancelled job of `client` with `answers` tasks, each answered by `worker`. */
  .extend('cancelledJobWithAnswers', async ({ seed, client, worker }) => async (answers: number) => {
    const job = await seed.job(client, { status: 'cancelled' });
    await seed.answers(await seed.tasks(job.id, answers), worker);
    return job;
  })
  .extend('purge', async ({ app, client }) => (jobId: string, who: Actor = client) => app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}/data`, headers: who.auth }))
  .extend('state', async ({ app, client }) => (jobId: string, who: Actor = client) => app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/data-purge`, headers: who.auth }))
  .extend('report', async ({ env, client }) => (jobId: string, count: number) => onAnswersPurged(env, { job_id: jobId, client_id: client.organizationId, assignments_purged: count }))
  .extend('requestEvents', async ({ env }) => async (jobId: string) => {
    const rows = await env.db.selectFrom('outbox').select(['event', 'queue', 'payload']).where('event', '=', 'job.data_purge_requested').execute();
    return rows.filter((r) => (r.payload as { job_id: string }).job_id === jobId);
  })
  .extend('auditRows', async ({ env }) => (jobId: string) => env.db.selectFrom('audit_log').select(['action', 'actor_key_id']).where('resource_id', '=', jobId).execute());

describe('job data purge: request and report', () => {
  test('asks worker-assignment once by event, shows the purge pending, and completes it with the reported count', async ({ client, cancelledJobWithAnswers, purge, state, report, requestEvents, auditRows }) => {
    const job = await cancelledJobWithAnswers(3);
    const requested = await purge(job.id);
    expect(requested.statusCode, requested.body).toBe(202);
    const pending = requested.json();
    expect(pending).toEqual({
      job_id: job.id,
      status: 'pending',
      requested_at: expect.any(String),
      completed_at: null,
      tasks_purged: 3,
      assignments_purged: null,
      already_requested: false,
    });
    expect(await requestEvents(job.id)).toEqual([{ event: 'job.data_purge_requested', queue: 'worker-assignment', payload: { job_id: job.id, client_id: client.organizationId } }]);
    expect((await state(job.id)).json()).toEqual(pending);

    expect(await report(job.id, 3)).toBe(true);
    const completed = (await state(job.id)).json();
    expect(completed).toEqual({ ...pending, status: 'completed', completed_at: expect.any(String), assignments_purged: 3 });
    expect(new Date(completed.completed_at).getTime()).toBeGreaterThanOrEqual(new Date(pending.requested_at).getTime());

    // Asking again once it is done: 200 with the completed state, and nothing new happens.
    const again = await purge(job.id);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...completed, already_requested: true });
    expect(await requestEvents(job.id)).toHaveLength(1);
    expect(await auditRows(job.id)).toEqual([{ action: 'job.data_purged', actor_key_id: client.keyId }]);
  });

  test('a redelivered report changes nothing, even with another count; a report for a job without a pending purge is a no-op', async ({ env, cancelledJobWithAnswers, purge, state, report }) => {
    const job = await cancelledJobWithAnswers(2);
    await purge(job.id);
    expect(await report(job.id, 2)).toBe(true);
    const first = (await state(job.id)).json();
    expect(await report(job.id, 2)).toBe(false);
    expect(await report(job.id, 0)).toBe(false);
    expect((await state(job.id)).json()).toEqual(first);

    const untouched = await cancelledJobWithAnswers(1);
    expect(await report(untouched.id, 1)).toBe(false);
    expect(await env.db.selectFrom('job_data_purges').select('job_id').where('job_id', '=', untouched.id).execute()).toEqual([]);
    expect(await report('00000000-0000-4000-8000-000000000000', 1)).toBe(false);
  });

  test('two requests at once make one purge: one event, one audit entry, one of them already_requested', async ({ cancelledJobWithAnswers, purge, requestEvents, auditRows }) => {
    const job = await cancelledJobWithAnswers(2);
    const both = await Promise.all([purge(job.id), purge(job.id)]);
    expect(both.map((r) => r.statusCode)).toEqual([202, 202]);
    expect(both.map((r) => r.json().already_requested).sort()).toEqual([false, true]);
    expect(both[0]!.json().requested_at).toBe(both[1]!.json().requested_at);
    expect(await requestEvents(job.id)).toHaveLength(1);
    expect(await auditRows(job.id)).toHaveLength(1);
  });

  test('a refused request (job not finished) publishes nothing and leaves no purge to read', async ({ seed, client, purge, state, requestEvents }) => {
    const job = await seed.job(client, { status: 'active' });
    await seed.tasks(job.id, 1);
    const refused = await purge(job.id);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('job_not_finished');
    expect(await requestEvents(job.id)).toEqual([]);
    const read = await state(job.id);
    expect(read.statusCode).toBe(404);
    expect(read.json().error.code).toBe('not_found');
  });
});

describe('GET /v1/jobs/:id/data-purge', () => {
  test("answers 404 for another client's purged job and for a job never purged, 403 for other roles, 400 for a malformed id", async ({ seed, worker, cancelledJobWithAnswers, purge, state }) => {
    const job = await cancelledJobWithAnswers(1);
    expect((await purge(job.id)).statusCode).toBe(202);

    const other = await seed.client();
    const foreign = await state(job.id, other);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('not_found');
    const foreignDelete = await purge(job.id, other);
    expect(foreignDelete.statusCode).toBe(404);
    expect(foreignDelete.json().error.code).toBe('not_found');

    const never = await cancelledJobWithAnswers(1);
    const none = await state(never.id);
    expect(none.statusCode).toBe(404);
    expect(none.json().error.code).toBe('not_found');

    for (const who of [await seed.vendor(), worker, await seed.platformKey('admin')]) {
      const forbidden = await state(job.id, who);
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json().error.code).toBe('forbidden');
    }
    const malformed = await state('not-a-uuid');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('validation_failed');
  });
});
