import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import type { QueueName } from '@fairlabel/contracts';
import { createQueueSet, closeQueueSet, defaultJobOptions, outboxJobId, type QueueSet } from '../queue-set.js';
import type { ReconcileSource } from './reconciler.js';

/**
 * How far back the reconciler looks: as long as a completed job is kept in Redis (defaultJobOptions),
 * so within the window a row's job is either still in Redis or was lost. Older rows that never showed
 * as consumed are outside its reach (and far older than any outage it is meant to repair).
 */
export const OUTBOX_RECONCILE_WINDOW_MS = ((defaultJobOptions.removeOnComplete as { age: number }).age ?? 7 * 24 * 3600) * 1000;

/**
 * Outbox rows the relay marked sent, no consumer has been seen to complete and no operator discarded: for each, Redis holds
 * its job (waiting, delayed, active, failed: left alone), or holds it completed (the row is marked
 * consumed, so it leaves the scan), or lost it (re-published with the same job id).
 */
export function outboxSource(opts: { redis: Redis; prefix: string; windowMs?: number; batchSize?: number }): ReconcileSource {
  const queues: QueueSet = createQueueSet(opts.redis, opts.prefix);
  const windowMs = opts.windowMs ?? OUTBOX_RECONCILE_WINDOW_MS;
  const batchSize = opts.batchSize ?? 1000;
  return {
    kind: 'outbox',
    async repair({ db, now }) {
      let repaired = 0;
      let after: { created_at: Date; id: number } | null = null;
      const cutoff = new Date(now.getTime() - windowMs);
      for (;;) {
        const rows = await inFlight(db, cutoff, after, batchSize);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!;
        const pipeline = opts.redis.pipeline();
        for (const r of rows) {
          const q = queues[r.queue as QueueName];
          if (!q) throw new Error(`outbox row ${r.id} names unknown queue ${r.queue}`);
          pipeline.exists(q.toKey(outboxJobId(r.id)));
          pipeline.zscore(q.toKey('completed'), outboxJobId(r.id));
        }
        const replies = (await pipeline.exec()) ?? [];
        const consumed: number[] = [];
        const missing: typeof rows = [];
        rows.forEach((r, i) => {
          const [existsErr, exists] = replies[2 * i] ?? [];
          const [scoreErr, score] = replies[2 * i + 1] ?? [];
          if (existsErr || scoreErr) throw existsErr ?? scoreErr;
          if (exists !== 1) missing.push(r);
          else if (score !== null) consumed.push(r.id);
        });
        if (consumed.length) {
          await db.updateTable('outbox').set({ consumed_at: sql<Date>`now()` }).where('id', 'in', consumed).where('consumed_at', 'is', null).execute();
        }
        const byQueue = new Map<string, typeof rows>();
        for (const r of missing) byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
        for (const [queue, items] of byQueue) {
          await queues[queue as QueueName].addBulk(items.map((r) => ({ name: r.event, data: r.payload, opts: { jobId: outboxJobId(r.id) } })));
        }
        repaired += missing.length;
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
    .select(['id', 'event', 'queue', 'payload', 'created_at'])
    .where('sent_at', 'is not', null)
    .where('consumed_at', 'is', null)
    // An operator discarded its failed job on purpose: its absence from Redis is not a loss.
    .where('discarded_at', 'is', null)
    .where('created_at', '>', cutoff);
  if (after) q = q.where(sql<boolean>`(created_at, id) > (${after.created_at}, ${after.id})`);
  return q.orderBy('created_at').orderBy('id').limit(limit).execute();
}
