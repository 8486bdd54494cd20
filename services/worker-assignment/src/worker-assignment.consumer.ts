import type { Redis } from 'ioredis';
import type { Db } from '@fairlabel/db';
import { createConsumer, type HandlerMap } from '@fairlabel/queues';
import type { Logger } from '@fairlabel/observability';
import type { Clock } from '@fairlabel/runtime';
import { purgeJobAnswers } from './answers-purge.service.js';
import { endLeasesOfCancelledJob } from './leases.service.js';
import { applyAssignmentDecision, applySkillChange, applyJobSuspension } from './qa-verdicts.service.js';
import { announceSlots } from './wakeups.js';

export interface WorkerAssignmentConsumerDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  logger: Logger;
  clock: Clock;
}

/**
 * The handlers of the worker-assignment queue. Most events mean slots may have opened (a job
 * activated, tasks imported, a lease expired or released), so they wake long-polling claimers in every
 * gateway; waking twice is harmless, so redelivery needs no guard. A purge request erases the job's
 * answers, once per job (see answers-purge.service). `job.cancelled` ends the job's live leases
 * (worker-assignment owns assignments); it acts only on a cancelled job's leased rows, so a redelivery
 * finds nothing left to do.
 */
export function workerAssignmentHandlers(deps: WorkerAssignmentConsumerDeps): HandlerMap {
  const wake = async (payload: { job_id: string }) => announceSlots(deps.redis, deps.prefix, payload.job_id, deps.logger);
  return {
    'job.activated': wake,
    'tasks.imported': wake,
    'assignment.expired': wake,
    'assignment.released': wake,
    'job.data_purge_requested': async (payload, ctx) => {
      const erased = await purgeJobAnswers(deps, payload);
      ctx.log.info({ jobId: payload.job_id, erased, repeat: erased === null }, 'job answers purged');
    },
    'job.cancelled': async (payload, ctx) => {
      const ended = await endLeasesOfCancelledJob(deps, payload.job_id);
      if (ended > 0) ctx.log.info({ jobId: payload.job_id, ended }, 'ended the live leases of a cancelled job');
    },
    // QA's verdicts (qa-verdicts.service): idempotent by the state they require, so redelivery is harmless.
    'assignment.decided': async (payload) => {
      const applied = await applyAssignmentDecision(deps.db, payload);
      // A rejection on an open task gave its slot back: wake the claimers.
      if (applied && payload.outcome === 'rejected') await wake(payload);
    },
    'worker.skill_changed': async (payload, ctx) => {
      const applied = await applySkillChange(deps.db, payload);
      if (applied) ctx.log.info({ workerId: payload.worker_id, skill: payload.skill, action: payload.action }, 'applied a QA skill change');
    },
    'worker.job_suspended': async (payload, ctx) => {
      const applied = await applyJobSuspension(deps.db, payload);
      if (applied) ctx.log.info({ workerId: payload.worker_id, jobId: payload.job_id }, 'applied a QA suspension from a job');
    },
  };
}

export function createWorkerAssignmentConsumer(deps: WorkerAssignmentConsumerDeps, connection: Redis, stalledMs?: number) {
  return createConsumer({
    queue: 'worker-assignment',
    handlers: workerAssignmentHandlers(deps),
    connection,
    prefix: deps.prefix,
    logger: deps.logger,
    ...(stalledMs ? { stalledMs } : {}),
  });
}
