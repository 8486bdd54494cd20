import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { expireStaleLeases, type LeaseDeps } from './leases.service.js';

export const LEASE_EXPIRY_QUEUE = 'lease-expiry';
const SCHEDULER_ID = 'expire-stale-leases';
export const LEASE_EXPIRY_EVERY_MS = 5000;

/**
 * Expires stale leases every few seconds. The tick is a BullMQ job scheduler: every replica upserts
 * the same scheduler id, so Redis holds one schedule and each tick is one job that one replica's
 * worker takes. Even if two runs overlapped, expireStaleLeases expires each lease once.
 */
export async function startLeaseExpiry(deps: LeaseDeps & { redis: Redis }, opts: { everyMs?: number } = {}) {
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null });
  const queue = new Queue(LEASE_EXPIRY_QUEUE, { connection, prefix: deps.prefix });
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { every: opts.everyMs ?? LEASE_EXPIRY_EVERY_MS },
    { name: 'expire', opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  const worker = createLeaseExpiryWorker(deps, connection);
  return {
    worker,
    queue,
    async stop() {
      await worker.close();
      await queue.close();
      connection.disconnect();
    },
  };
}

export function createLeaseExpiryWorker(deps: LeaseDeps, connection: Redis): Worker {
  const worker = new Worker(
    LEASE_EXPIRY_QUEUE,
    async () => {
      const expired = await expireStaleLeases(deps);
      if (expired > 0) deps.logger.info({ expired }, 'expired stale leases');
      return { expired };
    },
    { connection, prefix: deps.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'lease expiry worker error'));
  return worker;
}
