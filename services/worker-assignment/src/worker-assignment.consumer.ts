import type { Redis } from 'ioredis';
import { createConsumer, type HandlerMap } from '@fairlabel/queues';
import type { Logger } from '@fairlabel/observability';
import { announceSlots } from './wakeups.js';

/**
 * The worker-assignment queue: every event it hears means slots may have opened (a job activated,
 * tasks imported, a lease expired or released), so it wakes long-polling claimers in every gateway.
 * Waking twice is harmless, so redelivery needs no guard.
 */
export function createWorkerAssignmentConsumer(deps: { redis: Redis; prefix: string; logger: Logger }, connection: Redis) {
  const wake = async (payload: { job_id: string }) => announceSlots(deps.redis, deps.prefix, payload.job_id, deps.logger);
  const handlers: HandlerMap = {
    'job.activated': wake,
    'tasks.imported': wake,
    'assignment.expired': wake,
    'assignment.released': wake,
  };
  return createConsumer({ queue: 'worker-assignment', handlers, connection, prefix: deps.prefix, logger: deps.logger });
}
