import { describe, expect } from 'vitest';
import { sql, type Db } from '@fairlabel/db';
import { createConsumer, publish, type BatchJobData } from '../src/index.js';
import { otherQaEvents, relayTest, submittedPayload } from './fixtures.js';

const test = relayTest;
/** The relays here drain 37 rows at a time, so a test's rows take several batches. */
const BY_37 = { batchSize: 37 };
const payload = submittedPayload;

/** How many of the outbox rows `ids` no relay has sent yet. */
async function unsent(db: Db, ids: number[]) {
  const row = await db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('sent_at', 'is', null).where('id', 'in', ids).executeTakeFirstOrThrow();
  return row.n;
}

const untilAllSent = (db: Db, ids: number[], timeout = 15_000) => expect.poll(() => unsent(db, ids), { timeout, interval: 25 }).toBe(0);

describe('transactional outbox', () => {
  test('never publishes an event written in a rolled-back transaction', async ({ db, queue, relay: newRelay }) => {
    const event = payload();
    await expect(
      db.transaction().execute(async (trx) => {
        await publish(trx, 'assignment.submitted', event);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const relay = newRelay(BY_37);
    await relay.start();
    expect(await relay.drainOnce()).toBe(0);
    await relay.stop();
    const rows = await sql`SELECT id FROM outbox WHERE (payload ->> 'assignment_id')::bigint = ${event.assignment_id}`.execute(db);
    expect(rows.rows).toEqual([]);
    expect(await queue.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(0);
  });

  test('refuses to publish outside a transaction and validates the payload', async ({ db }) => {
    await expect(publish(db, 'assignment.submitted', payload())).rejects.toThrow(/inside the transaction/);
    await expect(db.transaction().execute((trx) => publish(trx, 'assignment.submitted', { ...payload(), job_id: 'nope' }))).rejects.toThrow();
  });

  test('publishes each committed event exactly once with two relays running at once', async ({ db, queue, relay }) => {
    const n = 300;
    const ids = await db.transaction().execute(async (trx) => {
      const all: number[] = [];
      for (let i = 1; i <= n; i++) all.push(...(await publish(trx, 'assignment.submitted', payload(i))));
      return all;
    });
    const [a, b] = [relay(BY_37), relay(BY_37)];
    await Promise.all([a.start(), b.start()]);
    await untilAllSent(db, ids);
    await Promise.all([a.stop(), b.stop()]);
    // The events travel in batch jobs; each qa-sampling row is in exactly one, the one recorded on the row.
    const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'], 0, -1);
    const carried = jobs.flatMap((j) => (j.data as BatchJobData).events.map((e) => ({ job: j.id, id: e.id, assignment: (e.payload as { assignment_id: number }).assignment_id })));
    expect(carried.length).toBe(n);
    expect(new Set(carried.map((c) => c.assignment)).size).toBe(n);
    expect(jobs.every((j) => j.name === 'events' && (j.data as BatchJobData).events.length <= 37)).toBe(true);
    const rows = await db.selectFrom('outbox').select(['id', 'attempts', 'batch_id', 'queue']).where('id', 'in', ids).execute();
    expect(rows.filter((r) => r.attempts !== 1)).toEqual([]);
    const batchOf = new Map(rows.map((r) => [r.id, r.batch_id]));
    expect(carried.filter((c) => batchOf.get(c.id) !== c.job)).toEqual([]);
  });

  test('wakes on NOTIFY at commit, not only on the polling timer', async ({ db, queue, relay: newRelay }) => {
    const relay = newRelay({ ...BY_37, pollMs: 60_000 });
    await relay.start();
    const ids = await db.transaction().execute((trx) => publish(trx, 'assignment.submitted', payload()));
    // The timer would not fire for a minute: only the notification can get the row sent this soon.
    await untilAllSent(db, ids, 5000);
    await relay.stop();
    expect(await queue.getJobCountByTypes('waiting')).toBe(1);
  });

  test('does the work once when a relay dies between publishing and marking', async ({ db, queue, redis, prefix, logger, relay }) => {
    const event = payload();
    const effects = new Map<number, number>();
    const consumerConnection = redis.duplicate();
    const consumer = createConsumer({
      queue: 'qa-sampling',
      connection: consumerConnection,
      prefix,
      logger,
      handlers: {
        'assignment.submitted': async (p) => {
          effects.set(p.assignment_id, (effects.get(p.assignment_id) ?? 0) + 1);
        },
        ...otherQaEvents,
      },
    });
    try {
      const ids = await db.transaction().execute((trx) => publish(trx, 'assignment.submitted', event));
      // assignment.submitted goes to several queues (one outbox row each); follow the qa-sampling one.
      const rows = await db.selectFrom('outbox').select(['id', 'event', 'queue', 'payload', 'created_at']).where('id', 'in', ids).where('queue', '=', 'qa-sampling').execute();
      expect(rows.length).toBe(1);
      // The first relay adds the batch and "dies" before its transaction marks the row sent.
      const dying = relay(BY_37);
      const [published] = await dying.publishRows(rows);
      await expect.poll(() => effects.get(event.assignment_id), { timeout: 15_000, interval: 25 }).toBe(1);
      expect(await unsent(db, ids)).toBe(ids.length);
      // A second relay finds the rows unsent and publishes them again: the same row makes the same batch, with the same job id.
      const survivor = relay(BY_37);
      expect(await survivor.drainOnce()).toBe(ids.length);
      await survivor.stop();
      await dying.stop();
      expect(await unsent(db, ids)).toBe(0);
      const marked = await db.selectFrom('outbox').select('batch_id').where('id', '=', rows[0]!.id).executeTakeFirstOrThrow();
      expect(marked.batch_id).toBe(published!.jobId);
      // The second add found the completed job and added nothing: no job is left to run, so the effect stays single.
      const job = await queue.getJob(published!.jobId);
      expect(job?.finishedOn).toBeTruthy();
      expect(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')).toMatchObject({ waiting: 0, active: 0, delayed: 0, prioritized: 0, completed: 1, failed: 0 });
      expect(effects.get(event.assignment_id)).toBe(1);
    } finally {
      await consumer.close();
      consumerConnection.disconnect();
    }
  });
});

describe('consumers', () => {
  test('refuse to start without a handler for every subscribed event', ({ redis, prefix, logger }) => {
    expect(() => createConsumer({ queue: 'qa-sampling', connection: redis, prefix, logger, handlers: {} })).toThrow(/no handler for assignment.submitted/);
  });

  test('retry a failing handler with backoff, and keep a job that failed its last attempt visible as failed', async ({ redis, prefix, logger, queue }) => {
    const attempts: number[] = [];
    const connection = redis.duplicate();
    const consumer = createConsumer({
      queue: 'qa-sampling',
      connection,
      prefix,
      logger,
      handlers: {
        'assignment.submitted': async (_p, ctx) => {
          attempts.push(ctx.attempt);
          throw new Error('downstream unavailable');
        },
        ...otherQaEvents,
      },
    });
    try {
      await queue.add('assignment.submitted', payload(5), { jobId: 'retry-me', attempts: 3, backoff: { type: 'exponential', delay: 20 } });
      await queue.add('assignment.submitted', { nonsense: true }, { jobId: 'bad-payload', attempts: 3 });
      await expect.poll(() => queue.getJobCountByTypes('failed'), { timeout: 15_000, interval: 25 }).toBe(2);
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
