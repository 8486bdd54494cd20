import type { z } from 'zod';

/** BullMQ queues, one per consuming service, plus outbound webhook deliveries. */
export const queueNames = ['task-dispatch', 'worker-assignment', 'qa-sampling', 'settlement', 'webhooks'] as const;
export type QueueName = (typeof queueNames)[number];

export type EventSchemas = Record<string, z.ZodObject>;
