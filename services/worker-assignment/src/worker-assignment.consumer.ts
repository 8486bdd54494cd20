import type { Redis } from 'ioredis';
import type { Db } from '@fairlabel/db';
import { createConsumer, type HandlerMap } from '@fairlabel/queues';
import type { Logger } from '@fairlabel/observability';
import type { Clock } from '@fairlabel/runtime';
import { purgeJobAnswers } from './answers-purge.service.js';
import { announceSlots } from './wakeups.js';

export interface WorkerAssignmentConsumerDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  logger: Logger;
  clock: Clock;
}

/**
 * The worker-assignment queue. Most events it hears mean slots may have opened (a job activated,
 * tasks imported, a lease expired or released), so it wakes long-polling claimers in every gateway;
 * waking twice is harmless, so redelivery needs no guard. A purge request erases the job's answers,
 * once per job (see answers-purge.service).
 */
export function createWorkerAssignmentConsumer(deps: WorkerAssignmentConsumerDeps, connection: Redis) {
  const wake = async (payload: { job_id: string }) => announceSlots(deps.redis, deps.prefix, payload.job_id, deps.logger);
  const handlers: HandlerMap = {
    'job.activated': wake,
    'tasks.imported': wake,
    'assignment.expired': wake,
    'assignment.released': wake,
    'job.data_purge_requested': async (payload, ctx) => {
      const erased = await purgeJobAnswers(deps, payload);
      ctx.log.info({ jobId: payload.job_id, erased, repeat: erased === null }, 'job answers purged');
    },
  };
  return createConsumer({ queue: 'worker-assignment', handlers, connection, prefix: deps.prefix, logger: deps.logger });
}
