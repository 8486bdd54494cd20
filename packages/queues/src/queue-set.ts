import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, type QueueName } from '@fairlabel/contracts';

/**
 * Every event job (a batch of events, or a single one) is retried with exponential backoff, and kept
 * after its last failed attempt so it stays visible (and retryable from the API or Bull Board), never
 * dropped. Completed jobs are kept a while so a batch published again with the same id is recognised as
 * a duplicate and the reconciler can see it completed — at most 2,000 per queue: a completed batch
 * holds up to 500 events' payloads (2,000 full batches are ~300 MB of Redis; 200,000 single-event jobs
 * were ~150 MB), and the relay's ConsumedSweeper marks rows consumed within a second of completion, so
 * they need not wait for the reconciler's pass.
 */
export const defaultJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 2_000 },
  removeOnFail: false,
};

export type QueueSet = Record<QueueName, Queue>;

export function createQueueSet(connection: Redis, prefix: string): QueueSet {
  return Object.fromEntries(
    queueNames.map((name) => [name, new Queue(name, { connection, prefix, defaultJobOptions })]),
  ) as QueueSet;
}

export async function closeQueueSet(queues: QueueSet): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/**
 * The id of one outbox event: its job id when rows travelled one per job (before batching; BullMQ
 * refuses plain integers as custom ids), and now the stable id a handler sees for its event
 * (HandlerContext.jobId) whichever batch carries it.
 */
export function outboxJobId(outboxId: number): string {
  return `outbox-${outboxId}`;
}
