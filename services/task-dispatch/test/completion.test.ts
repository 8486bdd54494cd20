import { describe, expect } from 'vitest';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { OutboxRelay, publish } from '@fairlabel/queues';
import { queuesFor } from '@fairlabel/contracts';
import type { Db } from '@fairlabel/db';
import { onTaskDecided, startTaskDispatchConsumers } from '../src/task-dispatch.consumer.js';

const test = integrationTest();

async function decide(db: Db, taskId: number) {
  await db.updateTable('tasks').set({ status: 'decided', decided_at: new Date(), agreement: 1 }).where('id', '=', taskId).execute();
}

const decidedEvent = (client: Actor, jobId: string, taskId: number) => ({
  task_id: taskId,
  job_id: jobId,
  client_id: client.organizationId,
  agreement: 1,
  accepted_assignment_ids: [],
  rejected_assignment_ids: [],
});

/** job.completed publications for a job: one outbox row per subscribing queue, so counted per queue. */
async function completedEvents(db: Db, jobId: string) {
  const rows = await db.selectFrom('outbox').select(['payload', 'queue']).where('event', '=', 'job.completed').execute();
  return rows.filter((r) => (r.payload as { job_id: string }).job_id === jobId && r.queue === queuesFor('job.completed')[0]);
}

const statusOf = async (db: Db, jobId: string) => (await db.selectFrom('jobs').select('status').where('id', '=', jobId).executeTakeFirstOrThrow()).status;

describe('task.decided handler', () => {
  test('completes the job when its last open task is decided, publishing job.completed once', async ({ env, seed, client }) => {
    const { tasks, ...job } = await seed.activeJob(3, { owner: client });
    const [t0, t1, t2] = tasks.map((t) => t.id) as [number, number, number];
    await decide(env.db, t0);
    await decide(env.db, t1);
    expect(await onTaskDecided(env.db, decidedEvent(client, job.id, t1))).toBe(false);
    expect(await statusOf(env.db, job.id)).toBe('active');
    await decide(env.db, t2);
    expect(await onTaskDecided(env.db, decidedEvent(client, job.id, t2))).toBe(true);
    const after = await env.db.selectFrom('jobs').select(['status', 'completed_at']).where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('completed');
    expect(after.completed_at).not.toBeNull();
    // A redelivery, or the event of another task of the same job decided at the same moment.
    expect(await onTaskDecided(env.db, decidedEvent(client, job.id, t2))).toBe(false);
    expect(await onTaskDecided(env.db, decidedEvent(client, job.id, t0))).toBe(false);
    expect((await completedEvents(env.db, job.id)).map((r) => r.payload)).toEqual([{ job_id: job.id, client_id: client.organizationId }]);
  });

  test('concurrent deliveries for the last tasks complete the job exactly once', async ({ env, seed, client }) => {
    const { tasks, ...job } = await seed.activeJob(4, { owner: client });
    for (const t of tasks) await decide(env.db, t.id);
    const results = await Promise.all(tasks.map((t) => onTaskDecided(env.db, decidedEvent(client, job.id, t.id))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await completedEvents(env.db, job.id)).toHaveLength(1);
  });

  test('leaves paused, cancelled and draft jobs alone', async ({ env, seed, client }) => {
    for (const status of ['paused', 'cancelled', 'draft'] as const) {
      const { tasks, ...job } = await seed.activeJob(1, { owner: client, status });
      await decide(env.db, tasks[0]!.id);
      expect(await onTaskDecided(env.db, decidedEvent(client, job.id, tasks[0]!.id))).toBe(false);
      expect(await statusOf(env.db, job.id)).toBe(status);
      expect(await completedEvents(env.db, job.id)).toEqual([]);
    }
  });

  test('an unknown job is a no-op, not an error', async ({ env, client }) => {
    expect(await onTaskDecided(env.db, decidedEvent(client, '00000000-0000-4000-8000-000000000000', 1))).toBe(false);
  });
});

describe('through the real queue', () => {
  test('a task.decided published via the outbox and relayed to BullMQ completes the job', async ({ env, seed, client }) => {
    const { tasks, ...job } = await seed.activeJob(2, { owner: client });
    const consumers = await startTaskDispatchConsumers(env);
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 100 });
    await relay.start();
    try {
      for (const t of tasks) {
        await env.db.transaction().execute(async (trx) => {
          await trx.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', t.id).execute();
          await publish(trx, 'task.decided', decidedEvent(client, job.id, t.id));
        });
      }
      await expect.poll(() => statusOf(env.db, job.id), { timeout: 15_000, interval: 50 }).toBe('completed');
      expect(await completedEvents(env.db, job.id)).toHaveLength(1);
    } finally {
      await relay.stop();
      await Promise.all(consumers.workers.map((w) => w.close()));
      await consumers.stop?.();
    }
  });
});
