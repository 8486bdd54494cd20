import type { Redis } from 'ioredis';
import { outboxSource } from './outbox.source.js';
import type { ReconcileSource } from './reconciler.js';
import { schedulersSource } from './schedulers.source.js';
import { undecidedSubmissionsSource } from './undecided-submissions.source.js';
import { webhookDeliveriesSource } from './webhook-deliveries.source.js';

export * from './reconciler.js';
export * from './consumed.js';
export * from './outbox.source.js';
export * from './schedulers.source.js';
export * from './webhook-deliveries.source.js';
export * from './undecided-submissions.source.js';

/**
 * Everything Postgres says must be in Redis: outbox events in flight, the job schedulers, pending
 * webhook deliveries, and (once QA fills its hook) undecided submissions. Settlement adds its own
 * source here when it queues work of its own.
 */
export function defaultReconcileSources(opts: { redis: Redis; prefix: string }): ReconcileSource[] {
  return [outboxSource(opts), schedulersSource(opts), webhookDeliveriesSource(opts), undecidedSubmissionsSource(opts)];
}
