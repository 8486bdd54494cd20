import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The rows whose BullMQ job (by its deterministic id) Redis does not hold in any state: one pipelined
 * EXISTS per row on the job's hash, so a batch costs one round trip. A Redis error fails the pass.
 */
export async function rowsWithoutJob<T>(redis: Redis, queue: Queue, rows: readonly T[], jobIdOf: (row: T) => string): Promise<T[]> {
  const pipeline = redis.pipeline();
  for (const r of rows) pipeline.exists(queue.toKey(jobIdOf(r)));
  const replies = (await pipeline.exec()) ?? [];
  return rows.filter((_, i) => {
    const [err, exists] = replies[i] ?? [];
    if (err) throw err;
    return exists !== 1;
  });
}
