import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import type { QueueName } from '@fairlabel/contracts';
import { createQueueSet, closeQueueSet, defaultJobOptions, outboxJobId, type QueueSet } from '../queue-set.js';
import { addBatches, type EventBatch } from '../batches.js';
import { markConsumed } from './consumed.js';
import type { ReconcileSource } from './reconciler.js';

/**
 * How far back the reconciler looks: as long as a completed job is kept in Redis (defaultJobOptions),
 * so within the window a row's job is either still in Redis or was lost. Older rows that never showed
 * as consumed are outside its reach (and far older than any outage it is meant to repair).
 */
export const OUTBOX_RECONCILE_WINDOW_MS = ((defaultJobOptions.removeOnComplete as { age: number }).age ?? 7 * 24 * 3600) * 1000;

/**
 * Outbox rows the relay marked sent, that no consumer has been seen to complete and no operator
 * discarded, checked per job that carries them: the row's batch (`batch_id`), or for a row sent before
 * batching its own job `outbox-<id>`. Redis holds the job (waiting, delayed, active, failed: left
 * alone), or holds it completed (all the batch's rows are marked consumed, so they leave the scan), or
 * lost it: the batch is re-published whole — every row recorded with that batch id, in id order — with
 * the same job id and content it was first published with. Returns how many jobs it re-published.
 */
export function outboxSource(opts: { redis: Redis; prefix: string; windowMs?: number; batchSize?: number }): ReconcileSource {
  const queues: QueueSet = createQueueSet(opts.redis, opts.prefix);
  const windowMs = opts.windowMs ?? OUTBOX_RECONCILE_WINDOW_MS;
  const batchSize = opts.batchSize ?? 1000;
  const queueOf = (r: { id: number; queue: string }) => {
    const q = queues[r.queue as QueueName];
    if (!q) throw new Error(`outbox row ${r.id} names unknown queue ${r.queue}`);
    return q;
  };
  return {
    kind: 'outbox',
    async repair({ db, now }) {
      let repaired = 0;
      let after: { created_at: Date; id: number } | null = null;
      const cutoff = new Date(now.getTime() - windowMs);
      // A batch's rows can fall on several pages: each batch is checked once per pass.
      const checked = new Set<string>();
      for (;;) {
        const rows = await inFlight(db, cutoff, after, batchSize);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!;
        // One job per batch, or per row sent before batching.
        const jobs = new Map<string, { jobId: string; batch: boolean; row: (typeof rows)[number] }>();
        for (const r of rows) {
          const jobId = r.batch_id ?? outboxJobId(r.id);
          const key = `${r.queue}/${jobId}`;
          if (checked.has(key)) continue;
          checked.add(key);
          jobs.set(key, { jobId, batch: r.batch_id !== null, row: r });
        }
        const list = [...jobs.values()];
        const pipeline = opts.redis.pipeline();
        for (const j of list) {
          const q = queueOf(j.row);
          pipeline.exists(q.toKey(j.jobId));
          pipeline.zscore(q.toKey('completed'), j.jobId);
        }
        const replies = list.length ? ((await pipeline.exec()) ?? []) : [];
        const consumedBatches: string[] = [];
        const consumedRows: number[] = [];
        const missingBatches: string[] = [];
        const missingRows: number[] = [];
        list.forEach((j, i) => {
          const [existsErr, exists] = replies[2 * i] ?? [];
          const [scoreErr, score] = replies[2 * i + 1] ?? [];
          if (existsErr || scoreErr) throw existsErr ?? scoreErr;
          if (exists !== 1) {
            if (j.batch) missingBatches.push(j.jobId);
            else missingRows.push(j.row.id);
          } else if (score !== null) {
            if (j.batch) consumedBatches.push(j.jobId);
            else consumedRows.push(j.row.id);
          }
        });
        await markConsumed(db, consumedBatches, consumedRows);
        if (missingBatches.length) {
          const batchRows = await db
            .selectFrom('outbox')
            .select(['id', 'event', 'queue', 'payload', 'batch_id'])
            .where('batch_id', 'in', missingBatches)
            .where('consumed_at', 'is', null)
            .orderBy('id')
            .execute();
          const byBatch = new Map<string, EventBatch>();
          for (const r of batchRows) {
            let b = byBatch.get(r.batch_id!);
            if (!b) byBatch.set(r.batch_id!, (b = { jobId: r.batch_id!, queue: r.queue, events: [] }));
            b.events.push({ id: r.id, event: r.event, payload: r.payload });
          }
          await addBatches(queues, [...byBatch.values()]);
          repaired += byBatch.size;
        }
        if (missingRows.length) {
          const single = await db.selectFrom('outbox').select(['id', 'event', 'queue', 'payload']).where('id', 'in', missingRows).orderBy('id').execute();
          const byQueue = new Map<string, typeof single>();
          for (const r of single) byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
          for (const [queue, items] of byQueue) {
            await queues[queue as QueueName].addBulk(items.map((r) => ({ name: r.event, data: r.payload, opts: { jobId: outboxJobId(r.id) } })));
          }
          repaired += single.length;
        }
        if (rows.length < batchSize) break;
      }
      return repaired;
    },
    close: () => closeQueueSet(queues),
  };
}

async function inFlight(db: Db, cutoff: Date, after: { created_at: Date; id: number } | null, limit: number) {
  let q = db
    .selectFrom('outbox')
    .select(['id', 'queue', 'batch_id', 'created_at'])
    .where('sent_at', 'is not', null)
    .where('consumed_at', 'is', null)
    // An operator discarded its failed job on purpose: its absence from Redis is not a loss.
    .where('discarded_at', 'is', null)
    .where('created_at', '>', cutoff);
  if (after) q = q.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id})`);
  return q.orderBy('created_at').orderBy('id').limit(limit).execute();
}
