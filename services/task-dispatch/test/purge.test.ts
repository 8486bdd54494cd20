import { describe, expect } from 'vitest';
import { expectError, integrationTest, type Actor } from '@fairlabel/testing';
import type { Db, JobStatus } from '@fairlabel/db';
import { purgeRoutes } from '../src/purge.routes.js';
import { resultsRoutes } from '../src/results.routes.js';
import { someRoutes } from './helpers.js';

const test = integrationTest({ app: [someRoutes('purge', purgeRoutes, resultsRoutes)] })
  /** A job of the given status with two decided tasks (payload, gold, prediction, result) and one answer each, by `worker`. */
  .extend('jobWithData', async ({ env, seed, client, worker }) => async (status: JobStatus, owner: Actor = client) => {
    const job = await seed.job(owner, { status });
    const tasks = await seed.tasks(job.id, 2, { payload: (i) => ({ text: `personal data ${i}` }) });
    for (const t of tasks) {
      await env.db
        .updateTable('tasks')
        .set({
          status: 'decided',
          result: JSON.stringify({ label: { choices: ['cat'] } }),
          agreement: 0.9,
          decided_at: new Date(),
          gold: JSON.stringify({ label: { choices: ['cat'] } }),
          prediction: JSON.stringify({ label: { choices: ['dog'] } }),
          prediction_confidence: 0.3,
          prediction_model: 'm1',
        })
        .where('id', '=', t.id)
        .execute();
      await env.db
        .insertInto('assignments')
        .values({
          task_id: t.id,
          job_id: job.id,
          worker_id: worker.workerId,
          vendor_id: worker.vendorId,
          status: 'accepted',
          lease_expires_at: new Date(Date.now() + 60_000),
          submitted_at: new Date(),
          answer: JSON.stringify({ label: { choices: ['cat'] } }),
          time_spent_ms: 1234,
          decided_at: new Date(),
        })
        .execute();
    }
    return { job, tasks };
  })
  .extend('purge', async ({ app, client }) => (jobId: string, actor: Actor = client) => app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}/data`, headers: actor.auth }));

/** Every payload and answer of the job is still there. */
async function expectDataKept(db: Db, jobId: string) {
  const tasks = await db.selectFrom('tasks').select('payload').where('job_id', '=', jobId).execute();
  const answers = await db.selectFrom('assignments').select('answer').where('job_id', '=', jobId).execute();
  expect(tasks.length).toBe(2);
  expect(tasks.filter((t) => t.payload === null)).toEqual([]);
  expect(answers.length).toBe(2);
  expect(answers.filter((a) => a.answer === null)).toEqual([]);
}

describe('job data purge', () => {
  test('removes payloads, gold, predictions and results of a completed job at once and asks for the answers; keeps statuses, counts and aggregates', async ({ app, env, client, jobWithData, purge }) => {
    const { job, tasks } = await jobWithData('completed');
    const other = await jobWithData('completed');
    const res = await purge(job.id);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ job_id: job.id, status: 'pending', tasks_purged: 2, assignments_purged: null, completed_at: null, already_requested: false });

    const taskRows = await env.db.selectFrom('tasks').selectAll().where('job_id', '=', job.id).orderBy('id').execute();
    expect(taskRows.map((t) => t.id)).toEqual(tasks.map((t) => t.id));
    for (const t of taskRows) {
      expect(t).toMatchObject({ payload: null, gold: null, prediction: null, result: null, status: 'decided', external_id: expect.any(String), prediction_confidence: expect.closeTo(0.3, 5) });
      expect(t.agreement).toBeCloseTo(0.9, 5);
      expect(t.decided_at).toBeInstanceOf(Date);
    }
    // The answers belong to worker-assignment, which erases them when it hears the request
    // (worker-assignment/test/answers-purge.test.ts, gateway/test/purge-flow.test.ts); task-dispatch leaves them alone.
    const assignments = await env.db.selectFrom('assignments').selectAll().where('job_id', '=', job.id).execute();
    expect(assignments).toHaveLength(2);
    for (const a of assignments) expect(a).toMatchObject({ answer: { label: { choices: ['cat'] } }, status: 'accepted', time_spent_ms: 1234 });

    // Another job of the same client is untouched.
    const untouched = await env.db.selectFrom('tasks').select(['payload', 'result']).where('job_id', '=', other.job.id).execute();
    expect(untouched.every((t) => t.payload !== null && t.result !== null)).toBe(true);

    const audit = await env.db.selectFrom('audit_log').select(['action', 'actor_key_id', 'details']).where('resource_id', '=', job.id).execute();
    expect(audit).toEqual([{ action: 'job.data_purged', actor_key_id: client.keyId, details: { tasks_purged: 2, assignments: 'erasure requested' } }]);

    // An export afterwards still lists every task, without the data, and without the answers not yet erased.
    const exported = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/results?format=jsonl&include=annotations`, headers: client.auth });
    const lines = exported.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ payload: null, result: null, gold: null, prediction: null, status: 'decided', annotations: [{ answer: null, status: 'accepted', time_spent_ms: 1234 }] });
  });

  test('is a no-op the second time', async ({ env, jobWithData, purge }) => {
    const { job } = await jobWithData('cancelled');
    const first = await purge(job.id);
    expect(first.statusCode).toBe(202);
    const second = await purge(job.id);
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual({ ...first.json(), already_requested: true });
    const audit = await env.db.selectFrom('audit_log').select('action').where('resource_id', '=', job.id).execute();
    expect(audit).toHaveLength(1);
  });

  test('refuses a job that is not completed or cancelled with 409 naming its state, and changes nothing', async ({ env, jobWithData, purge }) => {
    for (const status of ['draft', 'active', 'paused'] as const) {
      const { job } = await jobWithData(status);
      expect(expectError(await purge(job.id), 409, 'job_not_finished').message).toContain(status);
      await expectDataKept(env.db, job.id);
    }
  });

  test("answers 404 for another client's job, 403 for other roles, 400 for a malformed id", async ({ env, seed, worker, jobWithData, purge }) => {
    const { job } = await jobWithData('completed');
    const other = await seed.client();
    expectError(await purge(job.id, other), 404, 'not_found');
    for (const actor of [await seed.vendor(), worker, await seed.platformKey('admin')]) expectError(await purge(job.id, actor), 403, 'forbidden');
    expectError(await purge('nope'), 400, 'validation_failed');
    await expectDataKept(env.db, job.id);
  });
});
