import { describe, expect } from 'vitest';
import { Queue } from 'bullmq';
import { sql } from '@fairlabel/db';
import { OutboxRelay, publish, undecidedSubmissionJobId, undecidedSubmissionsSource } from '@fairlabel/queues';
import { integrationTest } from '@fairlabel/testing';
import { createQaConsumer } from '../src/qa.consumer.js';
import { createWorkerAssignmentConsumer } from '../../worker-assignment/src/worker-assignment.consumer.js';
import { startTaskDispatchConsumers } from '../../task-dispatch/src/task-dispatch.consumer.js';
import { decisionsOf, pick, submit, workersOf } from './helpers.js';

// The whole path: assignment.submitted through the outbox, the relay and BullMQ to the qa-sampling
// consumer; its decisions through the outbox to worker-assignment (assignments accepted/rejected) and
// task-dispatch (task closed with the result, job completed).

const test = integrationTest().extend('stack', { scope: 'file' }, async ({ env }, { onCleanup }) => {
  const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
  await relay.start();
  const qa = createQaConsumer(env, env.redis.duplicate(), 64, 5_000);
  const wa = createWorkerAssignmentConsumer(env, env.redis.duplicate(), 5_000);
  const td = await startTaskDispatchConsumers(env);
  const qaQueue = new Queue('qa-sampling', { connection: env.redis, prefix: env.prefix });
  onCleanup(async () => {
    await Promise.all([qa.close(), wa.close(), ...td.workers.map((w) => w.close())]);
    await relay.stop();
    await qaQueue.close();
  });
  return { qaQueue };
});

describe('decisions through the outbox, the relay and the consumers', () => {
  test('submitted answers (each event twice) end as decided tasks, accepted/rejected assignments and a completed job', async ({ env, seed, stack }) => {
    expect(stack.qaQueue).toBeDefined();
    const job = await seed.activeJob(10, { overlap: 3, qa_policy: JSON.stringify({ consensus_method: 'dawid_skene' }) });
    const workers = await workersOf(seed, 3);
    const events = await submit(env.db, seed, job.tasks, workers, (t, w) => pick(w === 2 && t.id % 3 === 0 ? 'dog' : 'cat'));
    await env.db.transaction().execute(async (trx) => {
      for (const e of [...events, ...events]) await publish(trx, 'assignment.submitted', e);
    });
    await expect
      .poll(async () => (await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()).status, { timeout: 20_000 })
      .toBe('completed');
    const tasks = await env.db.selectFrom('tasks').select(['status', 'result']).where('job_id', '=', job.id).execute();
    expect(tasks.map((t) => [t.status, t.result])).toEqual(job.tasks.map(() => ['decided', pick('cat')]));
    await expect
      .poll(async () => (await env.db.selectFrom('assignments').select('status').where('job_id', '=', job.id).execute()).map((a) => a.status).sort(), { timeout: 20_000 })
      .toEqual([...Array(30 - job.tasks.filter((t) => t.id % 3 === 0).length).fill('accepted'), ...Array(job.tasks.filter((t) => t.id % 3 === 0).length).fill('rejected')]);
    const { tasks: decided, assignments } = await decisionsOf(env.db, job);
    expect(decided).toHaveLength(10);
    expect(assignments).toHaveLength(30);
  });

  test('the reconciler re-adds a submission QA never recorded, once, and leaves recorded ones alone', async ({ env, seed, stack }) => {
    const job = await seed.activeJob(2, { overlap: 1 });
    const [worker] = await workersOf(seed, 1);
    const events = await submit(env.db, seed, job.tasks, [worker!], () => pick('cat'));
    // Submitted long ago, and their events lost (never published here).
    await sql`UPDATE assignments SET submitted_at = now() - interval '1 hour' WHERE id = ANY(${events.map((e) => e.assignment_id)}::bigint[])`.execute(env.db);
    const source = undecidedSubmissionsSource({ redis: env.redis, prefix: env.prefix });
    try {
      const ctx = { db: env.db, redis: env.redis, prefix: env.prefix, logger: env.logger, now: new Date() };
      // Paused so the re-added jobs stay visible; other tests' submissions are recorded already.
      await stack.qaQueue.pause();
      expect(await source.repair(ctx)).toBe(2);
      expect(await source.repair(ctx)).toBe(0);
      const ids = events.map((e) => undecidedSubmissionJobId(e.assignment_id));
      expect((await Promise.all(ids.map((id) => stack.qaQueue.getJob(id)))).map((j) => j?.data)).toEqual(events);
      await stack.qaQueue.resume();
      await expect.poll(async () => (await decisionsOf(env.db, job)).tasks.length, { timeout: 20_000 }).toBe(2);
      expect(await source.repair(ctx)).toBe(0);
    } finally {
      await stack.qaQueue.resume();
      await source.close?.();
    }
  });
});
