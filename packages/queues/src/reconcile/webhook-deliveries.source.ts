import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import { WEBHOOK_DELIVERY_QUEUE, automaticJobId, defaultDeliverySchedule, deliveryJobOptions, type DeliverySchedule } from '../webhook-deliveries.js';
import { rowsWithoutJob } from './missing-jobs.js';
import type { ReconcileSource } from './reconciler.js';

/**
 * Pending webhook deliveries whose job Redis lost: each is re-added with its original job id, delayed
 * until the next attempt Postgres has scheduled, with the attempts it has left (its backoff restarts
 * from the first step).
 */
export function webhookDeliveriesSource(opts: { redis: Redis; prefix: string; schedule?: DeliverySchedule; batchSize?: number }): ReconcileSource {
  const queue = new Queue(WEBHOOK_DELIVERY_QUEUE, { connection: opts.redis, prefix: opts.prefix });
  const schedule = opts.schedule ?? defaultDeliverySchedule;
  const batchSize = opts.batchSize ?? 1000;
  return {
    kind: 'webhook_delivery',
    async repair({ db, now }) {
      let repaired = 0;
      let after: { created_at: Date; id: string } | null = null;
      for (;;) {
        const rows = await pending(db, after, batchSize);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!;
        const missing = await rowsWithoutJob(opts.redis, queue, rows, (r) => automaticJobId(r.id));
        if (missing.length) {
          await queue.addBulk(
            missing.map((r) => ({
              name: 'automatic',
              data: { delivery_id: r.id },
              opts: {
                ...deliveryJobOptions(schedule),
                attempts: Math.max(1, schedule.attempts - Number(r.automatic_attempts)),
                delay: r.next_attempt_at ? Math.max(0, r.next_attempt_at.getTime() - now.getTime()) : 0,
                jobId: automaticJobId(r.id),
              },
            })),
          );
        }
        repaired += missing.length;
        if (rows.length < batchSize) break;
      }
      return repaired;
    },
    close: () => queue.close(),
  };
}

async function pending(db: Db, after: { created_at: Date; id: string } | null, limit: number) {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .select(['d.id', 'd.created_at', 'd.next_attempt_at'])
    .select((eb) =>
      eb
        .selectFrom('webhook_delivery_attempts as a')
        .select(sql<number>`count(*)`.as('n'))
        .whereRef('a.delivery_id', '=', 'd.id')
        .where('a.trigger', '=', 'automatic')
        .as('automatic_attempts'),
    )
    .where('d.status', '=', 'pending');
  if (after) q = q.where(sql<boolean>`(d.created_at, d.id) > (${after.created_at}, ${after.id}::uuid)`);
  return q.orderBy('d.created_at').orderBy('d.id').limit(limit).execute();
}
