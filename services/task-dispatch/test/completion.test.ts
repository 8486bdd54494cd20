import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, newClient, newJob, newTasks, type Actor, type TestEnv } from '@fairlabel/testing';
import { OutboxRelay, publish } from '@fairlabel/queues';
import { queuesFor } from '@fairlabel/contracts';
import { onTaskDecided, startTaskDispatchConsumers } from '../src/task-dispatch.consumer.js';

let env: TestEnv;
let client: Actor;

beforeAll(async () => {
  env = await createTestEnv();
  client = await newClient(env.db);
});
afterAll(async () => {
  await env.close();
});

async function activeJob(tasks: number) {
  const job = await newJob(env.db, client.organizationId, { status: 'active' });
  const rows = await newTasks(env.db, job.id, tasks);
  return { job, taskIds: rows.map((r) => r.id) };
}

async function decide(taskId: number) {
  await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date(), agreement: 1 }).where('id', '=', taskId).execute();
}

const decidedEvent = (jobId: string, taskId: number) => ({
  task_id: taskId,
  job_id: jobId,
  client_id: client.organizationId,
  agreement: 1,
  accepted_assignment_ids: [],
  rejected_assignment_ids: [],
});

/** job.completed publications for a job: one outbox row per subscribing queue, so counted per queue. */
async function completedEvents(jobId: string) {
  const rows = await env.db.selectFrom('outbox').select(['payload', 'queue']).where('event', '=', 'job.completed').execute();
  return rows.filter((r) => (r.payload as { job_id: string }).job_id === jobId && r.queue === queuesFor('job.completed')[0]);
}

describe('task.decided handler', () => {
  it('completes the job when its last open task is decided, publishing job.completed once', async () => {
    const { job, taskIds } = await activeJob(3);
    await decide(taskIds[0]!);
    await decide(taskIds[1]!);
    expect(await onTaskDecided(env.db, decidedEvent(job.id, taskIds[1]!))).toBe(false);
    expect((await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()).status).toBe('active');
    await decide(taskIds[2]!);
    expect(await onTaskDecided(env.db, decidedEvent(job.id, taskIds[2]!))).toBe(true);
    const after = await env.db.selectFrom('jobs').select(['status', 'completed_at']).where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(after.status).toBe('completed');
    expect(after.completed_at).not.toBeNull();
    // A redelivery, or the event of another task of the same job decided at the same moment.
    expect(await onTaskDecided(env.db, decidedEvent(job.id, taskIds[2]!))).toBe(false);
    expect(await onTaskDecided(env.db, decidedEvent(job.id, taskIds[0]!))).toBe(false);
    expect((await completedEvents(job.id)).map((r) => r.payload)).toEqual([{ job_id: job.id, client_id: client.organizationId }]);
  });

  it('concurrent deliveries for the last tasks complete the job exactly once', async () => {
    const { job, taskIds } = await activeJob(4);
    for (const id of taskIds) await decide(id);
    const results = await Promise.all(taskIds.map((id) => onTaskDecided(env.db, decidedEvent(job.id, id))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await completedEvents(job.id)).toHaveLength(1);
  });

  it('leaves paused, cancelled and draft jobs alone', async () => {
    for (const status of ['paused', 'cancelled', 'draft'] as const) {
      const { job, taskIds } = await activeJob(1);
      await env.db.updateTable('jobs').set({ status }).where('id', '=', job.id).execute();
      await decide(taskIds[0]!);
      expect(await onTaskDecided(env.db, decidedEvent(job.id, taskIds[0]!))).toBe(false);
      expect((await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()).status).toBe(status);
    }
  });

  it('an unknown job is a no-op, not an error', async () => {
    expect(await onTaskDecided(env.db, decidedEvent('00000000-0000-4000-8000-000000000000', 1))).toBe(false);
  });
});

describe('through the real queue', () => {
  it('a task.decided published via the outbox and relayed to BullMQ completes the job', async () => {
    const { job, taskIds } = await activeJob(2);
    const consumers = await startTaskDispatchConsumers(env);
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 100 });
    await relay.start();
    try {
      for (const id of taskIds) {
        await env.db.transaction().execute(async (trx) => {
          await trx.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', id).execute();
          await publish(trx, 'task.decided', decidedEvent(job.id, id));
        });
      }
      const deadline = Date.now() + 15_000;
      let status = 'active';
      while (status !== 'completed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()).status;
      }
      expect(status).toBe('completed');
      expect(await completedEvents(job.id)).toHaveLength(1);
    } finally {
      await relay.stop();
      await Promise.all(consumers.workers.map((w) => w.close()));
      await consumers.stop?.();
    }
  });
});
