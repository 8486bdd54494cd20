import { Queue } from 'bullmq';
import { describe, expect } from 'vitest';
import { OutboxRelay, publish } from '@fairlabel/queues';
import { integrationTest } from '@fairlabel/testing';
import { purgeJobAnswers } from '../src/answers-purge.service.js';
import { createWorkerAssignmentConsumer } from '../src/worker-assignment.consumer.js';

// worker-assignment's half of a data purge: it alone writes `assignments`, so it erases a purged
// job's answers when task-dispatch asks (`job.data_purge_requested`), once per job however often the
// request is delivered, and reports the count (`job.answers_purged`).

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const test = integrationTest()
  /** A completed job of `client` with `count` tasks, each answered by `worker`. */
  .extend('jobWithAnswers', async ({ seed, client, worker }) => async (count: number) => {
    const job = await seed.job(client, { status: 'completed' });
    await seed.answers(await seed.tasks(job.id, count), worker, { answer: (id) => ({ label: `answer ${id}` }) });
    return job;
  })
  .extend('request', async ({ client }) => (jobId: string) => ({ job_id: jobId, client_id: client.organizationId }))
  .extend('answersOf', async ({ env }) => (jobId: string) => env.db.selectFrom('assignments').select(['answer', 'status', 'time_spent_ms']).where('job_id', '=', jobId).execute())
  .extend('reports', async ({ env }) => async (jobId: string) => {
    const rows = await env.db.selectFrom('outbox').select(['queue', 'payload']).where('event', '=', 'job.answers_purged').execute();
    return rows.filter((r) => (r.payload as { job_id: string }).job_id === jobId);
  })
  .extend('record', async ({ env }) => (jobId: string) => env.db.selectFrom('assignment_answer_purges').selectAll().where('job_id', '=', jobId).executeTakeFirst());

describe('purgeJobAnswers (the job.data_purge_requested handler)', () => {
  test("erases the job's answers and nothing else, records it, and reports the count to task-dispatch in the same transaction", async ({ env, client, jobWithAnswers, request, answersOf, reports, record }) => {
    const job = await jobWithAnswers(3);
    const other = await jobWithAnswers(2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(3);

    expect(await answersOf(job.id)).toEqual(Array.from({ length: 3 }, () => ({ answer: null, status: 'accepted', time_spent_ms: 1234 })));
    expect((await answersOf(other.id)).every((a) => a.answer !== null)).toBe(true);
    expect(await record(job.id)).toMatchObject({ job_id: job.id, answers_erased: 3, erased_at: expect.any(Date) });
    expect(await reports(job.id)).toEqual([{ queue: 'task-dispatch', payload: { job_id: job.id, client_id: client.organizationId, assignments_purged: 3 } }]);
  });

  test('a redelivered request erases nothing more and reports nothing twice', async ({ env, jobWithAnswers, request, reports, record }) => {
    const job = await jobWithAnswers(2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(2);
    const first = await record(job.id);
    expect(await purgeJobAnswers(env, request(job.id))).toBeNull();
    expect(await record(job.id)).toEqual(first);
    expect(await reports(job.id)).toHaveLength(1);
  });

  test('concurrent deliveries of one request erase once: one count, one report', async ({ env, jobWithAnswers, request, answersOf, reports }) => {
    const job = await jobWithAnswers(4);
    const results = await Promise.all([purgeJobAnswers(env, request(job.id)), purgeJobAnswers(env, request(job.id)), purgeJobAnswers(env, request(job.id))]);
    expect(results.filter((r) => r !== null)).toEqual([4]);
    expect(await reports(job.id)).toHaveLength(1);
    expect((await answersOf(job.id)).every((a) => a.answer === null)).toBe(true);
  });

  test('a job without answers reports zero', async ({ env, seed, client, request, reports }) => {
    const job = await seed.job(client, { status: 'cancelled' });
    await seed.tasks(job.id, 2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(0);
    expect((await reports(job.id)).map((r) => r.payload)).toEqual([{ job_id: job.id, client_id: client.organizationId, assignments_purged: 0 }]);
  });
});

describe('the worker-assignment consumer', () => {
  test('erases a job’s answers when the request arrives through the outbox relay, and a redelivered request is harmless', async ({ env, jobWithAnswers, request, answersOf, reports, record }) => {
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
    const consumer = createWorkerAssignmentConsumer(env, env.redis);
    const queue = new Queue('worker-assignment', { connection: env.redis, prefix: env.prefix });
    try {
      await relay.start();
      const job = await jobWithAnswers(2);
      await env.db.transaction().execute((trx) => publish(trx, 'job.data_purge_requested', request(job.id)));
      await until(async () => (await reports(job.id)).length === 1);
      expect((await answersOf(job.id)).every((a) => a.answer === null)).toBe(true);
      expect((await reports(job.id))[0]!.payload).toMatchObject({ assignments_purged: 2 });

      // The same request delivered again (a relay that died before marking its batch sent republishes
      // the row; BullMQ may also run a job twice after a stalled worker).
      const redelivered = await queue.add('job.data_purge_requested', request(job.id), { jobId: `redelivery-${job.id}` });
      await until(async () => (await redelivered.getState()) === 'completed');
      expect(await reports(job.id)).toHaveLength(1);
      expect(await record(job.id)).toMatchObject({ answers_erased: 2 });
    } finally {
      await relay.stop();
      await consumer.close();
      await queue.close();
    }
  });
});
