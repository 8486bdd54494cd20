import type { JobsOptions } from 'bullmq';

/**
 * Every repeatable job of the stack (BullMQ job schedulers). A schedule lives only in Redis, so it is
 * written in one place here: the owning service upserts it when it starts, and the reconciler
 * re-ensures it whenever Redis lost it (a flush, a failover to an empty replica) — without this, a
 * lost schedule stays lost until that service happens to restart.
 */
export interface JobSchedulerSpec {
  queue: string;
  id: string;
  everyMs: number;
  template: { name: string; opts: Omit<JobsOptions, 'jobId' | 'repeat' | 'delay'> };
}

/** worker-assignment expires stale leases on this tick; the slot returns to the pool. */
export const leaseExpiryScheduler: JobSchedulerSpec = {
  queue: 'lease-expiry',
  id: 'expire-stale-leases',
  everyMs: 5000,
  template: { name: 'expire', opts: { removeOnComplete: 100, removeOnFail: 100 } },
};

export const jobSchedulers: readonly JobSchedulerSpec[] = [leaseExpiryScheduler];
