import { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';
import { createConsumer, createRedis, OutboxRelay, outboxJobId, publish } from '../src/index.js';

let env: TestEnv;
let queue: Queue;

const payload = (n: number) => ({
  assignment_id: n,
  task_id: n,
  job_id: '00000000-0000-4000-8000-000000000001',
  worker_id: '00000000-0000-4000-8000-000000000002',
  vendor_id: '00000000-0000-4000-8000-000000000003',
});

function newRelay() {
  return new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50, batchSize: 37 });
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function unsent() {
  const row = await env.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('sent_at', 'is', null).executeTakeFirstOrThrow();
  return row.n;
}

beforeAll(async () => {
  env = await createTestEnv();
  queue = new Queue('qa-sampling', { connection: env.redis, prefix: env.prefix });
});
afterAll(async () => {
  await queue.close();
  await env.close();
});
beforeEach(async () => {
  await queue.obliterate({ force: true });
  await env.db.deleteFrom('outbox').execute();
});

describe('transactional outbox', () => {
  it('never publishes an event written in a rolled-back transaction', async () => {
    await expect(
      env.db.transaction().execute(async (trx) => {
        await publish(trx, 'assignment.submitted', payload(1));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const relay = newRelay();
    await relay.start();
    await relay.drainOnce();
    await relay.stop();
    expect(await env.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    expect(await queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(0);
  });

  it('refuses to publish outside a transaction and validates the payload', async () => {
    await expect(publish(env.db, 'assignment.submitted', payload(1))).rejects.toThrow(/inside the transaction/);
    await expect(
      env.db.transaction().execute((trx) => publish(trx, 'assignment.submitted', { ...payload(1), job_id: 'nope' })),
    ).rejects.toThrow();
  });

  it('publishes each committed event exactly once with two relays running at once', async () => {
    const n = 300;
    await env.db.transaction().execute(async (trx) => {
      for (let i = 1; i <= n; i++) await publish(trx, 'assignment.submitted', payload(i));
    });
    const [a, b] = [newRelay(), newRelay()];
    await Promise.all([a.start(), b.start()]);
    await until(async () => (await unsent()) === 0);
    await Promise.all([a.stop(), b.stop()]);
    const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'], 0, -1);
    expect(jobs.length).toBe(n);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(n);
    expect(new Set(jobs.map((j) => (j.data as { assignment_id: number }).assignment_id)).size).toBe(n);
    const rows = await env.db.selectFrom('outbox').select(['id', 'attempts']).execute();
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
  });

  it('wakes on NOTIFY at commit, not only on the polling timer', async () => {
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 60_000 });
    await relay.start();
    await until(async () => true);
    await env.db.transaction().execute((trx) => publish(trx, 'assignment.submitted', payload(7)));
    await until(async () => (await unsent()) === 0, 5000);
    await relay.stop();
    expect(await queue.getJobCountByTypes('waiting')).toBe(1);
  });

  it('does the work once when a relay dies between publishing and marking', async () => {
    const effects = new Map<number, number>();
    const consumerConnection = createRedis(env.config.REDIS_URL);
    const consumer = createConsumer({
      queue: 'qa-sampling',
      connection: consumerConnection,
      prefix: env.prefix,
      logger: env.logger,
      handlers: {
        'assignment.submitted': async (p) => {
          effects.set(p.assignment_id, (effects.get(p.assignment_id) ?? 0) + 1);
        },
      },
    });
    try {
      await env.db.transaction().execute((trx) => publish(trx, 'assignment.submitted', payload(42)));
      // assignment.submitted goes to several queues (one outbox row each); follow the qa-sampling one.
      const rows = await env.db.selectFrom('outbox').select(['id', 'event', 'queue', 'payload']).where('queue', '=', 'qa-sampling').execute();
      expect(rows.length).toBe(1);
      const others = await env.db.selectFrom('outbox').select('id').where('queue', '<>', 'qa-sampling').execute();
      // The first relay adds the job and "dies" before its transaction marks the row sent.
      const dying = newRelay();
      await dying.publishRows(rows);
      await until(async () => effects.get(42) === 1);
      expect(await unsent()).toBe(1 + others.length);
      // A second relay finds the row unsent and publishes it again, with the same job id.
      const survivor = newRelay();
      expect(await survivor.drainOnce()).toBe(1 + others.length);
      await survivor.stop();
      await dying.stop();
      expect(await unsent()).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(effects.get(42)).toBe(1);
      const job = await queue.getJob(outboxJobId(rows[0]!.id));
      expect(job?.finishedOn).toBeTruthy();
      expect(await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'completed')).toBe(1);
    } finally {
      await consumer.close();
      consumerConnection.disconnect();
    }
  });
});

describe('consumers', () => {
  it('refuse to start without a handler for every subscribed event', () => {
    expect(() => createConsumer({ queue: 'qa-sampling', connection: env.redis, prefix: env.prefix, logger: env.logger, handlers: {} })).toThrow(
      /no handler for assignment.submitted/,
    );
  });

  it('retry a failing handler with backoff, and keep a job that failed its last attempt visible as failed', async () => {
    const attempts: number[] = [];
    const connection = createRedis(env.config.REDIS_URL);
    const consumer = createConsumer({
      queue: 'qa-sampling',
      connection,
      prefix: env.prefix,
      logger: env.logger,
      handlers: {
        'assignment.submitted': async (_p, ctx) => {
          attempts.push(ctx.attempt);
          throw new Error('downstream unavailable');
        },
      },
    });
    try {
      await queue.add('assignment.submitted', payload(5), { jobId: 'retry-me', attempts: 3, backoff: { type: 'exponential', delay: 20 } });
      await queue.add('assignment.submitted', { nonsense: true }, { jobId: 'bad-payload', attempts: 3 });
      await until(async () => (await queue.getJobCountByTypes('failed')) === 2);
      expect(attempts.filter((a) => a > 0)).toEqual([1, 2, 3]);
      const failed = await queue.getJob('retry-me');
      expect(failed?.failedReason).toBe('downstream unavailable');
      expect(failed?.attemptsMade).toBe(3);
      // An invalid payload is not retried: it fails at once, visibly.
      const bad = await queue.getJob('bad-payload');
      expect(bad?.attemptsMade).toBe(1);
      expect(bad?.failedReason).toMatch(/invalid assignment.submitted payload/);
    } finally {
      await consumer.close();
      connection.disconnect();
    }
  });
});
