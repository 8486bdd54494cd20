import type { Job } from 'bullmq';
import { describe, expect } from 'vitest';
import type { Db } from '@fairlabel/db';
import {
  batchJob,
  batchJobId,
  ConsumedSweeper,
  createConsumer,
  defaultReconcileSources,
  packBatches,
  publish,
  Reconciler,
  type BatchJobData,
  type HandlerMap,
} from '../src/index.js';
import { deleteKeysWithPrefix } from '../src/testing/index.js';
import { otherQaEvents, relayTest, submittedPayload } from './fixtures.js';

// Several events per BullMQ job: how the relay packs them, how the consumer runs a batch, and how a
// batch survives a relay's death, a Redis flush, a failing handler and an invalid event.

const payload = (n: number) => submittedPayload(n);

const test = relayTest
  /** `consume(handlers)`: a qa-sampling consumer of the test's stack, closed when the test ends. */
  .extend('consume', async ({ redis, prefix, logger }, { onCleanup }) => {
    const closers: (() => Promise<void>)[] = [];
    onCleanup(async () => {
      for (const close of closers) await close();
    });
    return (handlers: HandlerMap, concurrency?: number) => {
      const connection = redis.duplicate();
      const worker = createConsumer({ queue: 'qa-sampling', connection, prefix, logger, handlers: { ...otherQaEvents, ...handlers }, ...(concurrency ? { concurrency } : {}) });
      closers.push(async () => {
        await worker.close();
        connection.disconnect();
      });
      return worker;
    };
  });

async function publishSubmissions(db: Db, from: number, n: number): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    const ids: number[] = [];
    for (let i = from; i < from + n; i++) ids.push(...(await publish(trx, 'assignment.submitted', payload(i))));
    return ids;
  });
}

async function qaRows(db: Db, ids: number[]) {
  return db.selectFrom('outbox').select(['id', 'event', 'queue', 'payload', 'batch_id', 'sent_at', 'created_at']).where('id', 'in', ids).where('queue', '=', 'qa-sampling').orderBy('id').execute();
}

/** An effect that happens once per key however often the handler runs, as the services' effects do (unique constraints). */
function idempotentSink() {
  const runs = new Map<number, number>();
  return {
    runs,
    handler: async (p: { assignment_id: number }) => {
      runs.set(p.assignment_id, (runs.get(p.assignment_id) ?? 0) + 1);
    },
    get effects() {
      return runs.size;
    },
  };
}

describe('the relay packs events into batch jobs', () => {
  test('of at most batchSize events per queue, records each row’s batch, and splits a batch past its byte cap', async ({ db, queue, relay }) => {
    const ids = await publishSubmissions(db, 1, 25);
    const r = relay({ batchSize: 1000, batchBytes: 4000 });
    while ((await r.drainOnce()) > 0);
    const rows = await qaRows(db, ids);
    expect(rows).toHaveLength(25);
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    // ~200 bytes per event: a 4,000-byte cap makes several batches, together carrying every row once, in id order.
    expect(jobs.length).toBeGreaterThan(1);
    const carried = jobs
      .map((j) => j.data as BatchJobData)
      .flatMap((d) => d.events.map((e) => e.id))
      .sort((a, b) => a - b);
    expect(carried).toEqual(rows.map((r) => r.id));
    for (const j of jobs) {
      const events = (j.data as BatchJobData).events;
      expect(j.name).toBe('events');
      // Named after its rows: their ids and created_at (a row of another database with the same id makes another job).
      expect(j.id).toBe(batchJobId(events.map((e) => e.id), events.map((e) => rows.find((x) => x.id === e.id)!.created_at)));
      expect(JSON.stringify(events).length).toBeLessThan(4000 + 400);
      // Every row of the batch records it, and the job carries the row as written.
      for (const e of events) {
        const row = rows.find((x) => x.id === e.id)!;
        expect(row.batch_id).toBe(j.id);
        expect(e).toEqual({ id: row.id, event: 'assignment.submitted', payload: row.payload });
      }
    }
  });

  test('of at most batchSize events', async ({ db, queue, relay }) => {
    const ids = await publishSubmissions(db, 100, 12);
    const r = relay({ batchSize: 5 });
    while ((await r.drainOnce()) > 0);
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    const sizes = jobs.map((j) => (j.data as BatchJobData).events.length);
    expect(sizes.every((n) => n <= 5)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe((await qaRows(db, ids)).length);
  });

  test('a drain claims up to claimRows rows (4 × batchSize by default), in jobs of at most batchSize events, each row marked with its batch', async ({ db, queue, relay }) => {
    // publish writes one row per subscribing queue of the event.
    const ids = await publishSubmissions(db, 400, 30);
    const all = await db.selectFrom('outbox').select(['id']).where('id', 'in', ids).execute();
    const r = relay({ batchSize: 5 });
    expect(await r.drainOnce()).toBe(Math.min(20, all.length));
    let moved = Math.min(20, all.length);
    for (let n; (n = await r.drainOnce()) > 0; ) moved += n;
    expect(moved).toBe(all.length);
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    expect(jobs.every((j) => (j.data as BatchJobData).events.length <= 5)).toBe(true);
    expect(jobs.reduce((n, j) => n + (j.data as BatchJobData).events.length, 0)).toBe((await qaRows(db, ids)).length);
    const sent = await db.selectFrom('outbox').select(['batch_id']).where('id', 'in', ids).execute();
    expect(sent.every((x) => x.batch_id !== null)).toBe(true);
    const one = relay({ batchSize: 5, claimRows: 3 });
    await publishSubmissions(db, 500, 2);
    expect(await one.drainOnce()).toBe(3);
  });

  test('a relay that dies after publishing but before marking: the next one publishes a second batch when its claim differs, and the effect stays single', async ({ db, queue, relay, consume }) => {
    const sink = idempotentSink();
    const first = await publishSubmissions(db, 200, 3);
    const dying = relay();
    // It claimed the three rows, added their batch and died before its transaction marked them sent.
    const [lost] = await dying.publishRows(await qaRows(db, first));
    // Meanwhile two more events were committed: the next relay claims five rows, a different batch.
    const more = await publishSubmissions(db, 203, 2);
    const survivor = relay();
    while ((await survivor.drainOnce()) > 0);
    const rows = await qaRows(db, [...first, ...more]);
    const batchIds = new Set(rows.map((r) => r.batch_id));
    expect(batchIds.size).toBe(1);
    expect(batchIds.has(lost!.jobId)).toBe(false);
    consume({ 'assignment.submitted': sink.handler });
    await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(2);
    // The first three ran twice (two batches), their effect once; nothing was lost.
    expect(sink.effects).toBe(5);
    expect([...sink.runs.values()].sort()).toEqual([1, 1, 2, 2, 2]);
  });
});

describe('a Redis flush after the relay published', () => {
  test('the reconciler re-publishes the lost batches with their ids and contents, and every event is handled', async ({ db, redis, prefix, logger, queue, relay, consume }) => {
    const ids = await publishSubmissions(db, 300, 40);
    const r = relay({ batchSize: 10 });
    while ((await r.drainOnce()) > 0);
    const rows = await qaRows(db, ids);
    const before = new Map((await queue.getJobs(['waiting'], 0, -1)).map((j) => [j.id!, j.data as BatchJobData]));
    expect(new Set(rows.map((x) => x.batch_id))).toEqual(new Set(before.keys()));
    await deleteKeysWithPrefix(redis, prefix);
    expect(await queue.getJobCountByTypes('waiting')).toBe(0);

    const reconciler = new Reconciler({ db, redis, prefix, logger, sources: defaultReconcileSources({ redis, prefix }), intervalMs: 3_600_000 });
    try {
      // Every lost job: the qa-sampling batches and those of the other subscribing queues.
      const expected = (await db.selectFrom('outbox').select('batch_id').distinct().where('id', 'in', ids).execute()).length;
      expect((await reconciler.run('flush')).outbox).toBe(expected);
      const after = new Map((await queue.getJobs(['waiting'], 0, -1)).map((j) => [j.id!, j.data as BatchJobData]));
      expect(after).toEqual(before);
      const sink = idempotentSink();
      consume({ 'assignment.submitted': sink.handler });
      await expect.poll(() => sink.effects, { timeout: 15_000, interval: 25 }).toBe(40);
      // Once completed, a pass marks every row of the batches consumed and re-publishes nothing.
      await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(before.size);
      expect((await reconciler.run('manual')).outbox).toBe(0);
      const consumed = await db.selectFrom('outbox').select('id').where('id', 'in', rows.map((x) => x.id)).where('consumed_at', 'is not', null).execute();
      expect(consumed).toHaveLength(rows.length);
    } finally {
      await reconciler.stop();
    }
  });
});

describe('the consumed sweeper', () => {
  test('marks a completed batch’s rows consumed at once, so the reconciler need not find the job (Redis keeps few completed batches)', async ({ db, redis, prefix, logger, queue, relay, consume }) => {
    const ids = await publishSubmissions(db, 400, 6);
    const r = relay();
    while ((await r.drainOnce()) > 0);
    const rows = await qaRows(db, ids);
    const sink = idempotentSink();
    consume({ 'assignment.submitted': sink.handler });
    await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(1);
    const sweeper = new ConsumedSweeper({ db, redis, prefix });
    const reconciler = new Reconciler({ db, redis, prefix, logger, sources: defaultReconcileSources({ redis, prefix }), intervalMs: 3_600_000 });
    try {
      expect(await sweeper.sweep()).toBe(rows.length);
      // Swept again: nothing new.
      expect(await sweeper.sweep()).toBe(0);
      // The completed job is removed (as removeOnComplete does past its count): the reconciler does not publish it again.
      await (await queue.getJob(rows[0]!.batch_id!))!.remove();
      // (The other queues' batches are still waiting: nobody consumes them here.)
      expect((await reconciler.run('manual')).outbox).toBe(0);
      expect(await queue.getJobCountByTypes('waiting', 'completed')).toBe(0);
      expect(sink.effects).toBe(6);
    } finally {
      await reconciler.stop();
      await sweeper.close();
    }
  });
});

describe('a consumer of batch jobs', () => {
  test('runs a batch’s events together, so a GroupCommit behind the handlers makes them one flush', async ({ queue, consume }) => {
    const { GroupCommit } = await import('../src/index.js');
    const flushes: number[] = [];
    const committer = new GroupCommit<number>(async (items) => void flushes.push(items.length));
    consume({ 'assignment.submitted': (p) => committer.add(p.assignment_id) }, 1000);
    const batch = packBatches(Array.from({ length: 200 }, (_, i) => ({ id: i + 1, event: 'assignment.submitted', queue: 'qa-sampling', payload: payload(i + 1) })))[0]!;
    const job = batchJob(batch);
    await queue.add(job.name, job.data, job.opts);
    await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(1);
    expect(flushes).toEqual([200]);
  });

  test('retries the whole batch when one handler fails, and completes once it succeeds; the others are re-run (idempotent)', async ({ queue, consume }) => {
    const sink = idempotentSink();
    let failuresLeft = 2;
    const failed: string[] = [];
    const worker = consume({
      'assignment.submitted': async (p, ctx) => {
        await sink.handler(p);
        // Each event sees its own stable id, not the batch's.
        expect(ctx.jobId).toBe(`outbox-${p.assignment_id}`);
        if (p.assignment_id === 3 && failuresLeft-- > 0) throw new Error('downstream unavailable');
      },
    });
    worker.on('failed', (_job, err) => failed.push(err.message));
    const batch = packBatches([1, 2, 3, 4].map((id) => ({ id, event: 'assignment.submitted', queue: 'qa-sampling', payload: payload(id) })))[0]!;
    const job = batchJob(batch);
    await queue.add(job.name, job.data, { ...job.opts, attempts: 5, backoff: { type: 'fixed', delay: 20 } });
    await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(1);
    const done = await queue.getJob(batch.jobId);
    expect(done!.returnvalue).toEqual({ handled: 4 });
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatch(/^1 of 4 events failed .*outbox 3 \(assignment\.submitted\): downstream unavailable/);
    expect(sink.effects).toBe(4);
    expect(sink.runs.get(3)).toBe(3);
  });

  test('handles the valid events of a batch with an invalid one, then fails it for good naming the invalid one', async ({ queue, consume }) => {
    const sink = idempotentSink();
    consume({ 'assignment.submitted': sink.handler });
    const events = [
      { id: 11, event: 'assignment.submitted', payload: payload(11) },
      { id: 12, event: 'assignment.submitted', payload: { nonsense: true } },
      { id: 13, event: 'no.such.event', payload: {} },
      { id: 14, event: 'assignment.submitted', payload: payload(14) },
    ];
    await queue.add('events', { events }, { jobId: batchJobId(events.map((e) => e.id)), attempts: 5 });
    await expect.poll(() => queue.getJobCountByTypes('failed'), { timeout: 15_000, interval: 25 }).toBe(1);
    const job = (await queue.getJobs(['failed'], 0, -1))[0] as Job;
    // Not retried: retrying would not make the payload valid (an operator retries after a fix, or discards).
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/^2 of 4 events cannot be handled \(the other 2 were\): outbox 12: invalid assignment\.submitted payload.*; outbox 13: no handler for event no\.such\.event/s);
    expect([...sink.runs.entries()].sort()).toEqual([
      [11, 1],
      [14, 1],
    ]);
  });

  test('still consumes single-event jobs (added before batching, or by the reconciler’s other sources)', async ({ queue, consume }) => {
    const sink = idempotentSink();
    const seen: string[] = [];
    consume({
      'assignment.submitted': async (p, ctx) => {
        seen.push(ctx.jobId);
        await sink.handler(p);
      },
    });
    await queue.add('assignment.submitted', payload(21), { jobId: 'outbox-21' });
    await queue.add('assignment.submitted', payload(22), { jobId: 'qa-22' });
    await expect.poll(() => queue.getJobCountByTypes('completed'), { timeout: 15_000, interval: 25 }).toBe(2);
    expect(sink.effects).toBe(2);
    expect(seen.sort()).toEqual(['outbox-21', 'qa-22']);
  });
});

describe('packing', () => {
  test('gives the same rows the same job id and different rows a different one, even with the same first row', () => {
    expect(batchJobId([1, 2, 4])).toBe(batchJobId([1, 2, 4]));
    expect(batchJobId([1, 2, 4])).not.toBe(batchJobId([1, 2, 3, 4]));
    expect(batchJobId([1, 2, 4])).toMatch(/^outbox-batch-1-[0-9a-f]{12}$/);
    // The same ids written at other times (another database on the same Redis prefix) make another job;
    // the same rows, the same one.
    const at = [new Date('2026-11-29T10:00:00Z'), new Date('2026-11-29T10:00:01Z'), new Date('2026-11-29T10:00:02Z')];
    const later = at.map((d) => new Date(d.getTime() + 3_600_000));
    expect(batchJobId([1, 2, 4], at)).toBe(batchJobId([1, 2, 4], [...at]));
    expect(batchJobId([1, 2, 4], at)).not.toBe(batchJobId([1, 2, 4], later));
    expect(batchJobId([1, 2, 4], at)).toMatch(/^outbox-batch-1-[0-9a-f]{12}$/);
  });

  test('keeps queues apart and an oversized event alone', () => {
    const big = 'x'.repeat(2000);
    const batches = packBatches(
      [
        { id: 1, event: 'e', queue: 'a', payload: { n: 1 } },
        { id: 2, event: 'e', queue: 'b', payload: { n: 2 } },
        { id: 3, event: 'e', queue: 'a', payload: { big } },
        { id: 4, event: 'e', queue: 'a', payload: { n: 4 } },
      ],
      { maxEvents: 10, maxBytes: 1000 },
    );
    expect(batches.map((b) => [b.queue, b.events.map((e) => e.id)])).toEqual([
      ['a', [1]],
      ['a', [3]],
      ['a', [4]],
      ['b', [2]],
    ]);
  });
});
