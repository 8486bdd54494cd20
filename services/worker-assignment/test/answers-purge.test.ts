import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay, publish } from '@fairlabel/queues';
import { createTestEnv, newAnswers, newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import { purgeJobAnswers } from '../src/answers-purge.service.js';
import { createWorkerAssignmentConsumer } from '../src/worker-assignment.consumer.js';

// worker-assignment's half of a data purge: it alone writes `assignments`, so it erases a purged
// job's answers when task-dispatch asks (`job.data_purge_requested`), once per job however often the
// request is delivered, and reports the count (`job.answers_purged`).

let env: TestEnv;
let client: Actor;
let worker: WorkerActor;

beforeAll(async () => {
  env = await createTestEnv();
  client = await newClient(env.db);
  worker = await newWorker(env.db, (await newVendor(env.db)).organizationId);
});
afterAll(async () => {
  await env.close();
});

async function jobWithAnswers(count: number) {
  const job = await newJob(env.db, client.organizationId, { status: 'completed' });
  const tasks = await newTasks(env.db, job.id, count);
  await newAnswers(env.db, tasks, worker, { answer: (id) => ({ label: `answer ${id}` }) });
  return job;
}

const request = (jobId: string) => ({ job_id: jobId, client_id: client.organizationId });
const answersOf = (jobId: string) => env.db.selectFrom('assignments').select(['answer', 'status', 'time_spent_ms']).where('job_id', '=', jobId).execute();
async function reports(jobId: string) {
  const rows = await env.db.selectFrom('outbox').select(['queue', 'payload']).where('event', '=', 'job.answers_purged').execute();
  return rows.filter((r) => (r.payload as { job_id: string }).job_id === jobId);
}
const record = (jobId: string) => env.db.selectFrom('assignment_answer_purges').selectAll().where('job_id', '=', jobId).executeTakeFirst();

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('purgeJobAnswers (the job.data_purge_requested handler)', () => {
  it("erases the job's answers and nothing else, records it, and reports the count to task-dispatch in the same transaction", async () => {
    const job = await jobWithAnswers(3);
    const other = await jobWithAnswers(2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(3);

    expect(await answersOf(job.id)).toEqual(Array.from({ length: 3 }, () => ({ answer: null, status: 'accepted', time_spent_ms: 1234 })));
    expect((await answersOf(other.id)).every((a) => a.answer !== null)).toBe(true);
    expect(await record(job.id)).toMatchObject({ job_id: job.id, answers_erased: 3, erased_at: expect.any(Date) });
    expect(await reports(job.id)).toEqual([{ queue: 'task-dispatch', payload: { job_id: job.id, client_id: client.organizationId, assignments_purged: 3 } }]);
  });

  it('a redelivered request erases nothing more and reports nothing twice', async () => {
    const job = await jobWithAnswers(2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(2);
    const first = await record(job.id);
    expect(await purgeJobAnswers(env, request(job.id))).toBeNull();
    expect(await record(job.id)).toEqual(first);
    expect(await reports(job.id)).toHaveLength(1);
  });

  it('concurrent deliveries of one request erase once: one count, one report', async () => {
    const job = await jobWithAnswers(4);
    const results = await Promise.all([purgeJobAnswers(env, request(job.id)), purgeJobAnswers(env, request(job.id)), purgeJobAnswers(env, request(job.id))]);
    expect(results.filter((r) => r !== null)).toEqual([4]);
    expect(await reports(job.id)).toHaveLength(1);
    expect((await answersOf(job.id)).every((a) => a.answer === null)).toBe(true);
  });

  it('a job without answers reports zero', async () => {
    const job = await newJob(env.db, client.organizationId, { status: 'cancelled' });
    await newTasks(env.db, job.id, 2);
    expect(await purgeJobAnswers(env, request(job.id))).toBe(0);
    expect((await reports(job.id)).map((r) => r.payload)).toEqual([{ job_id: job.id, client_id: client.organizationId, assignments_purged: 0 }]);
  });
});

describe('the worker-assignment consumer', () => {
  it('erases a job’s answers when the request arrives through the outbox relay, and a redelivered request is harmless', async () => {
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
