import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, type QueueName } from '@fairlabel/contracts';

/**
 * Every event job is retried with exponential backoff, kept after completion long enough that a
 * republished outbox row with the same job id is recognised as a duplicate, and kept after its last
 * failed attempt so it stays visible (and retryable from the API or Bull Board), never dropped.
 */
export const defaultJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 200_000 },
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

/** The BullMQ job id of an outbox row; BullMQ refuses plain integers as custom ids. */
export function outboxJobId(outboxId: number): string {
  return `outbox-${outboxId}`;
}
