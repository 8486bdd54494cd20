import type { z } from 'zod';
import type { QueueName } from './define.js';
import { qaSamplingEvents, qaSamplingSubscribes } from './qa-sampling.js';
import { settlementEvents, settlementSubscribes } from './settlement.js';
import { taskDispatchEvents, taskDispatchSubscribes, webhooksSubscribes } from './task-dispatch.js';
import { workerAssignmentEvents, workerAssignmentSubscribes } from './worker-assignment.js';

export * from './define.js';

/**
 * Every queue event: its name and payload schema. The producing area defines the schema; each
 * consuming queue lists the events it subscribes to. Payloads carry ids, not rows.
 */
export const eventSchemas = {
  ...workerAssignmentEvents,
  ...taskDispatchEvents,
  ...qaSamplingEvents,
  ...settlementEvents,
};
export type EventName = keyof typeof eventSchemas;
export type EventPayload<E extends EventName> = z.infer<(typeof eventSchemas)[E]>;

export const subscriptions: Record<QueueName, readonly string[]> = {
  'task-dispatch': taskDispatchSubscribes,
  'worker-assignment': workerAssignmentSubscribes,
  'qa-sampling': qaSamplingSubscribes,
  settlement: settlementSubscribes,
  webhooks: webhooksSubscribes,
};

/** The queues an event is delivered to: one outbox row per queue (the relay carries it in a batch job of that queue). */
export function queuesFor(event: EventName): QueueName[] {
  return (Object.keys(subscriptions) as QueueName[]).filter((q) => subscriptions[q].includes(event));
}
