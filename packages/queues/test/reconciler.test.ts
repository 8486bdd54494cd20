import { Queue } from 'bullmq';
import { Registry } from 'prom-client';
import { describe, expect, vi } from 'vitest';
import { createDb, createPool, sql } from '@fairlabel/db';
import { proxyFor } from '@fairlabel/db/testing';
import {
  createConsumer,
  databaseRetryDelayMs,
  defaultReconcileSources,
  ensureJobScheduler,
  leaseExpiryScheduler,
  OUTBOX_LISTENER_APPLICATION_NAME,
  OutboxRelay,
  publish,
  readReconcilerStats,
  Reconciler,
  type BatchJobData,
} from '../src/index.js';
import { deleteKeysWithPrefix, queuesTest } from '../src/testing/index.js';
import { submittedPayload } from './fixtures.js';

/** `newReconciler(options)`: a reconciler of the test's stack with the default sources, passes an hour apart unless told. */
const test = queuesTest.extend('newReconciler', async ({ db, redis, prefix, logger }) => (opts: Partial<ConstructorParameters<typeof Reconciler>[0]> = {}) =>
  new Reconciler({ db, redis, prefix, logger, sources: defaultReconcileSources({ redis, prefix }), intervalMs: 3_600_000, ...opts }),
);

const payload = (n: number) => submittedPayload(n);

async function until<T>(what: string, check: () => Promise<T | false | undefined | null>, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What FLUSHALL does to this stack, limited to this test's own key prefix (the Redis is shared). */
const flushOwnPrefix = deleteKeysWithPrefix;

async function jobIds(queue: Queue) {
  const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'], 0, -1);
  return jobs.map((j) => j.id).sort();
}


describe('the reconciler', () => {
  test('after Redis is emptied, notices its marker is gone and re-publishes in-flight events with their own ids, leaves consumed ones, and re-ensures the schedulers', async ({ db, database, redis, prefix, logger, newReconciler }) => {
    const registry = new Registry();
    const reconciler = newReconciler({ markerCheckMs: 3_600_000, registry });
    // The relay's tick checks the marker; it is held off while the test flushes and looks at the empty
    // queues, or (under load) the repair could land before the test has seen what the flush removed.
    let watchMarker = true;
    const relay = new OutboxRelay({ db, databaseUrl: database.url, redis, prefix, logger, pollMs: 50, onTick: () => void (watchMarker && reconciler.checkMarker()) });
    const qa = new Queue('qa-sampling', { connection: redis, prefix });
    const webhooks = new Queue('webhooks', { connection: redis, prefix });
    const expiry = new Queue(leaseExpiryScheduler.queue, { connection: redis, prefix });
    const consumerConnection = redis.duplicate();
    const consumed: number[] = [];
    // qa-sampling consumes its events; nobody consumes the webhooks queue in this test.
    const consumer = createConsumer({
      queue: 'qa-sampling',
      connection: consumerConnection,
      prefix,
      logger,
      // (job.activated and tasks.imported also go to qa-sampling; this test publishes none.)
      handlers: { 'assignment.submitted': async (p) => void consumed.push(p.assignment_id), 'job.activated': async () => {}, 'tasks.imported': async () => {} },
    });
    try {
      await ensureJobScheduler(expiry, leaseExpiryScheduler);
      await db.transaction().execute(async (trx) => {
        for (let i = 1; i <= 5; i++) await publish(trx, 'assignment.submitted', payload(i));
      });
      const rows = await db.selectFrom('outbox').select(['id', 'queue']).execute();
      const qaRows = rows.filter((r) => r.queue === 'qa-sampling').map((r) => r.id);
      const webhookRows = rows.filter((r) => r.queue === 'webhooks').map((r) => r.id);
      expect(qaRows).toHaveLength(5);
      expect(webhookRows).toHaveLength(5);
      await relay.start();
      await until('all sent', async () => (await db.selectFrom('outbox').select('id').where('sent_at', 'is', null).execute()).length === 0);
      await until('qa consumed', async () => consumed.length === 5 && (await qa.getJobCountByTypes('completed')) === 1);

      // A pass with nothing lost re-publishes nothing, and records what the consumer completed.
      expect(await reconciler.run('manual')).toEqual({ outbox: 0, scheduler: 0, webhook_delivery: 0, undecided_submission: 0 });
      const marked = await db.selectFrom('outbox').select('id').where('consumed_at', 'is not', null).execute();
      expect(marked.map((r) => r.id).sort()).toEqual(qaRows.sort());

      watchMarker = false;
      // Let a marker check already in flight (it reads the marker before the flush) finish.
      await new Promise((r) => setTimeout(r, 250));
      await flushOwnPrefix(redis, prefix);
      expect(await jobIds(webhooks)).toEqual([]);
      expect(await expiry.getJobScheduler(leaseExpiryScheduler.id)).toBeUndefined();
      watchMarker = true;

      // The relay's poll tick notices the missing marker and runs a pass at once.
      // The five webhooks events were one batch: it comes back whole, with its job id.
      const webhookBatches = await db.selectFrom('outbox').select('batch_id').distinct().where('id', 'in', webhookRows).execute();
      expect(webhookBatches).toHaveLength(1);
      await until('re-published', async () => (await jobIds(webhooks)).length === 1);
      expect(await jobIds(webhooks)).toEqual([webhookBatches[0]!.batch_id]);
      const republished = await webhooks.getJob(webhookBatches[0]!.batch_id!);
      expect((republished!.data as BatchJobData).events.map((e) => e.id)).toEqual([...webhookRows].sort((a, b) => a - b));
      // Consumed events are not re-published; nothing is duplicated.
      expect(await jobIds(qa)).toEqual([]);
      expect(consumed).toHaveLength(5);
      await until('scheduler back', async () => (await expiry.getJobScheduler(leaseExpiryScheduler.id))?.every === leaseExpiryScheduler.everyMs);
      // The flush pass has finished every source (a run() while it is still going would join it).
      await until('flush pass recorded', async () => (await readReconcilerStats(redis, prefix)).lastTrigger === 'flush');

      // Another pass finds everything in place: idempotent.
      expect(await reconciler.run('manual')).toEqual({ outbox: 0, scheduler: 0, webhook_delivery: 0, undecided_submission: 0 });
      expect(await jobIds(webhooks)).toHaveLength(1);
      const metrics = await registry.metrics();
      // Counted in jobs: one batch.
      expect(metrics).toMatch(/fairlabel_reconciler_repaired_total\{kind="outbox"\} 1/);
      expect(metrics).toMatch(/fairlabel_reconciler_repaired_total\{kind="scheduler"\} 1/);
      expect(metrics).toMatch(/fairlabel_reconciler_runs_total\{trigger="flush"\} 1/);
    } finally {
      await reconciler.stop();
      await relay.stop();
      await consumer.close();
      consumerConnection.disconnect();
      await Promise.all([qa.close(), webhooks.close(), expiry.close()]);
    }
  });

  test('after a loss of Redis (the marker missing) it reports how the pass ended even when nothing was missing; otherwise it says nothing', async ({ redis, prefix, logger, newReconciler }) => {
    const warn = vi.spyOn(logger, 'warn');
    const ended = () => warn.mock.calls.filter((c) => c.some((a) => typeof a === 'string' && a.startsWith('reconciler re-published')));
    const expiry = new Queue(leaseExpiryScheduler.queue, { connection: redis, prefix });
    const reconciler = newReconciler();
    try {
      // The first pass on a Redis without the marker: it puts the lease-expiry scheduler back, and says so.
      expect((await reconciler.run('start')).scheduler).toBe(1);
      expect(ended().map((c) => c[1])).toEqual(['reconciler re-published items Redis had lost']);
      // A routine pass with the marker in place and nothing missing: silent.
      await reconciler.run('interval');
      expect(ended()).toHaveLength(1);
      // Redis emptied, and worker-assignment (restarting) put its scheduler back before the reconciler's
      // pass, as in the fault suite: the pass finds nothing missing and still reports how it ended.
      await deleteKeysWithPrefix(redis, prefix);
      await ensureJobScheduler(expiry, leaseExpiryScheduler);
      expect(await reconciler.checkMarker()).toBe(true);
      await vi.waitFor(() => expect(ended()).toHaveLength(2), { timeout: 10_000 });
      expect(ended()[1]![1]).toBe('reconciler re-published nothing: Redis was missing nothing Postgres says must be queued');
    } finally {
      warn.mockRestore();
      await expiry.close();
    }
  });

  test('re-publishes a sent event whose job vanished without a flush (the marker still there) at its next pass', async ({ db, database, redis, prefix, logger, newReconciler }) => {
    const reconciler = newReconciler();
    const relay = new OutboxRelay({ db, databaseUrl: database.url, redis, prefix, logger, pollMs: 60_000 });
    const settlement = new Queue('settlement', { connection: redis, prefix });
    try {
      const event = {
        task_id: 9,
        job_id: '00000000-0000-4000-8000-000000000001',
        client_id: '00000000-0000-4000-8000-000000000004',
        agreement: 1,
        accepted_assignment_ids: [1],
        rejected_assignment_ids: [],
      };
      await db.transaction().execute((trx) => publish(trx, 'task.decided', event));
      while ((await relay.drainOnce()) > 0);
      const row = await db.selectFrom('outbox').select(['id', 'batch_id']).where('queue', '=', 'settlement').orderBy('id', 'desc').executeTakeFirstOrThrow();
      await (await settlement.getJob(row.batch_id!))!.remove();
      const repaired = await reconciler.run('interval');
      expect(repaired.outbox).toBe(1);
      const job = await settlement.getJob(row.batch_id!);
      expect(job?.data).toEqual({ events: [{ id: row.id, event: 'task.decided', payload: event }] });
    } finally {
      await reconciler.stop();
      await relay.stop();
      await settlement.close();
    }
  });
});

describe('the relay after a database restart', () => {
  test('re-establishes its LISTEN connection and is woken by NOTIFY again', async ({ db, database, redis, prefix, logger }) => {
    const relay = new OutboxRelay({ db, databaseUrl: database.url, redis, prefix, logger, pollMs: 60_000 });
    const listenerPid = async () => {
      const r = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE application_name = ${OUTBOX_LISTENER_APPLICATION_NAME} AND datname = current_database()`.execute(db);
      return r.rows[0]?.pid;
    };
    const unsent = async () => (await db.selectFrom('outbox').select('id').where('sent_at', 'is', null).execute()).length;
    await relay.start();
    try {
      const first = await until('listening', listenerPid);
      // What a restart does to the connection: the server ends it.
      await sql`SELECT pg_terminate_backend(${first})`.execute(db);
      const second = await until('listening again', async () => {
        const pid = await listenerPid();
        return pid !== first && relay.listening ? pid : undefined;
      });
      expect(second).not.toBe(first);
      // Polling is an hour away: only a NOTIFY on the new connection can move this row now.
      await db.transaction().execute((trx) => publish(trx, 'assignment.submitted', payload(77)));
      await until('relayed by NOTIFY', async () => (await unsent()) === 0, 5000);
    } finally {
      await relay.stop();
    }
  });
});

describe('a consumer during a database outage', () => {
  test('retries the job within seconds without spending an attempt, and completes it once the database is back', async ({ database, redis, prefix, logger }) => {
    const proxy = await proxyFor(database.url);
    const throughProxy = createDb(createPool(proxy.rewrite(database.url), 2));
    const connection = redis.duplicate();
    const queue = new Queue('settlement', { connection: redis, prefix });
    let calls = 0;
    let done = false;
    const failed: string[] = [];
    const consumer = createConsumer({
      queue: 'settlement',
      connection,
      prefix,
      logger,
      handlers: {
        'task.decided': async () => {
          calls++;
          await sql`SELECT 1`.execute(throughProxy);
          done = true;
        },
        // The settlement queue's other events; none is sent here.
        'assignment.decided': async () => {},
        'review.completed': async () => {},
      },
    });
    consumer.on('failed', (job) => failed.push(String(job?.id)));
    try {
      await proxy.cut();
      const event = { task_id: 1, job_id: '00000000-0000-4000-8000-000000000001', client_id: '00000000-0000-4000-8000-000000000004', agreement: null, accepted_assignment_ids: [], rejected_assignment_ids: [] };
      // One attempt only: if the outage cost an attempt, the job would fail for good.
      await queue.add('task.decided', event, { jobId: 'outage', attempts: 1 });
      // A batch job takes the same path: the whole batch goes back without spending its one attempt.
      await queue.add('events', { events: [{ id: 1, event: 'task.decided', payload: event }, { id: 2, event: 'task.decided', payload: { ...event, task_id: 2 } }] }, { jobId: 'outage-batch', attempts: 1 });
      await until('tried twice during the outage', async () => calls >= 6, 20_000);
      for (const id of ['outage', 'outage-batch']) expect((await queue.getJob(id))?.attemptsMade).toBe(0);
      expect(failed).toEqual([]);
      await proxy.restore();
      for (const id of ['outage', 'outage-batch']) {
        await until('completed', async () => done && (await queue.getJob(id))?.finishedOn, 20_000);
        expect(await (await queue.getJob(id))!.getState()).toBe('completed');
      }
      expect(failed).toEqual([]);
    } finally {
      await consumer.close();
      connection.disconnect();
      await queue.close();
      await throughProxy.destroy();
      await proxy.cut();
    }
  }, 60_000);
});

describe('the retry delay after a database outage', () => {
  test('starts at a quarter second and doubles per further outage try up to 5 s, with up to half again of jitter', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => databaseRetryDelayMs(n, 0))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(databaseRetryDelayMs(0, 1)).toBe(375);
    expect(databaseRetryDelayMs(10, 1)).toBe(7500);
  });
});
