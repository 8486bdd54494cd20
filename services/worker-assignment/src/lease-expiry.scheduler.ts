import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ensureJobScheduler, leaseExpiryScheduler, workerTimings } from '@fairlabel/queues';
import { expireStaleLeases, type LeaseDeps } from './leases.service.js';

export const LEASE_EXPIRY_QUEUE = leaseExpiryScheduler.queue;
export const LEASE_EXPIRY_EVERY_MS = leaseExpiryScheduler.everyMs;

/**
 * Expires stale leases every few seconds. The tick is a BullMQ job scheduler (defined with the others
 * in @fairlabel/queues): every replica upserts the same scheduler id, so Redis holds one schedule and
 * each tick is one job that one replica's worker takes; the reconciler upserts it again if Redis loses
 * it. Even if two runs overlapped, expireStaleLeases expires each lease once.
 */
export async function startLeaseExpiry(deps: LeaseDeps & { redis: Redis; stalledMs?: number }, opts: { everyMs?: number } = {}) {
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null });
  const queue = new Queue(LEASE_EXPIRY_QUEUE, { connection, prefix: deps.prefix });
  await ensureJobScheduler(queue, { ...leaseExpiryScheduler, everyMs: opts.everyMs ?? leaseExpiryScheduler.everyMs });
  const worker = createLeaseExpiryWorker(deps, connection, deps.stalledMs);
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

export function createLeaseExpiryWorker(deps: LeaseDeps, connection: Redis, stalledMs?: number): Worker {
  const worker = new Worker(
    LEASE_EXPIRY_QUEUE,
    async () => {
      const expired = await expireStaleLeases(deps);
      if (expired > 0) deps.logger.info({ expired }, 'expired stale leases');
      return { expired };
    },
    { connection, prefix: deps.prefix, concurrency: 1, ...workerTimings(stalledMs) },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'lease expiry worker error'));
  return worker;
}
