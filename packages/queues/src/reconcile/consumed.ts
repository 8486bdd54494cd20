import type { Redis } from 'ioredis';
import { queueNames } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { isBatchJobId } from '../batches.js';
import { outboxIdOfJob } from '../ops.js';
import { closeQueueSet, createQueueSet, type QueueSet } from '../queue-set.js';

/**
 * Marks outbox rows consumed within a second of their job completing, from BullMQ's completed sets
 * (scored by finishing time), so that Redis need not keep completed jobs until the reconciler's next
 * pass. A completed batch holds up to 500 events' payloads, so Redis keeps far fewer completed jobs
 * than it kept when a job was an event (defaultJobOptions); a completed job removed before its rows
 * were marked would look lost to the reconciler, which would publish it again (harmless to idempotent
 * consumers, but wasted work and a false repair alarm). The reconciler still marks what this misses
 * (the relay down, a sweep failing): it checks every in-flight row's job.
 */
export class ConsumedSweeper {
  private readonly queues: QueueSet;
  /** Per queue, the finishing time up to which completions were swept (inclusive next time: re-marking is a no-op). */
  private readonly since = new Map<string, number>();
  private running = false;

  constructor(private readonly opts: { db: Db; redis: Redis; prefix: string; limit?: number }) {
    this.queues = createQueueSet(opts.redis, opts.prefix);
  }

  /** One sweep over every event queue; returns how many rows it marked. A sweep still running is not doubled. */
  async sweep(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      let marked = 0;
      for (const name of queueNames) {
        const from = this.since.get(name) ?? 0;
        const reply = await this.opts.redis.zrangebyscore(this.queues[name].toKey('completed'), from, '+inf', 'WITHSCORES', 'LIMIT', 0, this.opts.limit ?? 5000);
        const batches: string[] = [];
        const rows: number[] = [];
        let until = from;
        for (let i = 0; i < reply.length; i += 2) {
          const id = reply[i]!;
          until = Math.max(until, Number(reply[i + 1]));
          if (isBatchJobId(id)) batches.push(id);
          else {
            const row = outboxIdOfJob(id);
            if (row !== null) rows.push(row);
          }
        }
        marked += await markConsumed(this.opts.db, batches, rows);
        this.since.set(name, until);
      }
      return marked;
    } finally {
      this.running = false;
    }
  }

  close(): Promise<void> {
    return closeQueueSet(this.queues);
  }
}

/**
 * Marks consumed the outbox rows of completed jobs: every row of each batch (`batch_id`), and each row
 * sent before batching (its own job). Rows already marked are left as they are. Returns how many it marked.
 */
export async function markConsumed(db: Db, batchIds: readonly string[], rowIds: readonly number[]): Promise<number> {
  let marked = 0;
  if (batchIds.length) {
    const r = await db.updateTable('outbox').set({ consumed_at: sql<Date>`now()` }).where('batch_id', 'in', batchIds).where('consumed_at', 'is', null).executeTakeFirst();
    marked += Number(r.numUpdatedRows);
  }
  if (rowIds.length) {
    const r = await db.updateTable('outbox').set({ consumed_at: sql<Date>`now()` }).where('id', 'in', rowIds).where('consumed_at', 'is', null).executeTakeFirst();
    marked += Number(r.numUpdatedRows);
  }
  return marked;
}
