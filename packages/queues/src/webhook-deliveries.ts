import type { JobsOptions } from 'bullmq';

// The queue of outbound webhook deliveries, shared by task-dispatch (which fills and works it) and the
// reconciler (which re-adds a pending delivery whose job Redis lost). The delivery row in Postgres is
// the truth; the job only says "attempt it at this time".

/** The BullMQ queue of outbound HTTP deliveries (one job per delivery row), under the stack's prefix. */
export const WEBHOOK_DELIVERY_QUEUE = 'webhook-deliveries';

/**
 * Retry schedule of a delivery: BullMQ's exponential backoff, the n-th retry waiting 90 s × 2^(n-1)
 * less up to 20% jitter (so receivers that failed together are not hit together again). 11 attempts:
 * now, then ~1.5 min, 3 min, 6 min, 12 min, 24 min, 48 min, 1.6 h, 3.2 h, 6.4 h, 12.8 h: the last
 * attempt comes 20.5–25.6 hours after the first, about a day for a receiver to come back.
 */
export interface DeliverySchedule {
  attempts: number;
  backoffDelayMs: number;
  jitter: number;
}
export const defaultDeliverySchedule: DeliverySchedule = { attempts: 11, backoffDelayMs: 90_000, jitter: 0.2 };

export function deliveryJobOptions(schedule: DeliverySchedule): JobsOptions {
  return {
    attempts: schedule.attempts,
    backoff: { type: 'exponential', delay: schedule.backoffDelayMs, jitter: schedule.jitter },
    removeOnComplete: { age: 7 * 24 * 3600 },
    // Postgres holds every attempt; the failed job only needs to outlive a support conversation.
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** The job id of a delivery's automatic attempts: enqueueing a delivery twice is one job. */
export const automaticJobId = (deliveryId: string) => `delivery-${deliveryId}`;
