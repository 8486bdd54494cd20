import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInstance } from '@fairlabel/http';
import { buildTestApp, createTestEnv, newClient, newJob, newPlatformKey, newTasks, newVendor, newWorker, type Actor, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import type { JobStatus } from '@fairlabel/db';
import { purgeRoutes } from '../src/purge.routes.js';
import { resultsRoutes } from '../src/results.routes.js';

let env: TestEnv;
let app: AppInstance;
let client: Actor;
let worker: WorkerActor;

beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [
    {
      name: 'purge',
      plugin: async (a) => {
        await a.register(purgeRoutes);
        await a.register(resultsRoutes);
      },
    },
  ]);
  client = await newClient(env.db);
  const vendor = await newVendor(env.db);
  worker = await newWorker(env.db, vendor.organizationId);
});

afterAll(async () => {
  await app.close();
  await env.close();
});

/** A job of the given status with two decided tasks (payload, gold, prediction, result) and one answer each. */
async function jobWithData(status: JobStatus, owner = client) {
  const job = await newJob(env.db, owner.organizationId, { status });
  const tasks = await newTasks(env.db, job.id, 2, { payload: (i) => ({ text: `personal data ${i}` }) });
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
}

const purge = (jobId: string, actor: Actor = client) => app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}/data`, headers: actor.auth });

describe('job data purge', () => {
  it('removes payloads, gold, predictions and results of a completed job at once and asks for the answers; keeps statuses, counts and aggregates', async () => {
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

  it('is a no-op the second time', async () => {
    const { job } = await jobWithData('cancelled');
    const first = await purge(job.id);
    expect(first.statusCode).toBe(202);
    const second = await purge(job.id);
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual({ ...first.json(), already_requested: true });
    const audit = await env.db.selectFrom('audit_log').select('action').where('resource_id', '=', job.id).execute();
    expect(audit).toHaveLength(1);
  });

  it('refuses a job that is not completed or cancelled with 409 naming its state, and changes nothing', async () => {
    for (const status of ['draft', 'active', 'paused'] as const) {
      const { job } = await jobWithData(status);
      const res = await purge(job.id);
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'job_not_finished' });
      expect(res.json().error.message).toContain(status);
      const kept = await env.db.selectFrom('tasks').select('payload').where('job_id', '=', job.id).execute();
      expect(kept.every((t) => t.payload !== null)).toBe(true);
    }
  });

  it("answers 404 for another client's job, 403 for other roles, 400 for a malformed id", async () => {
    const { job } = await jobWithData('completed');
    const other = await newClient(env.db);
    const res = await purge(job.id, other);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
    for (const actor of [await newVendor(env.db), worker, await newPlatformKey(env.db, 'admin')]) {
      const forbidden = await purge(job.id, actor);
      expect(forbidden.statusCode).toBe(403);
    }
    expect((await purge('nope')).statusCode).toBe(400);
    const kept = await env.db.selectFrom('tasks').select('payload').where('job_id', '=', job.id).execute();
    expect(kept.every((t) => t.payload !== null)).toBe(true);
  });
});
