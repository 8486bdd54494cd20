import type { EventPayload } from '@fairlabel/contracts';
import type { Db } from '@fairlabel/db';
import { createConsumer, type HandlerContext } from '@fairlabel/queues';
import type { Clock, Deps, ServiceProcess } from '@fairlabel/runtime';
import { closeDecidedTask, completeJobIfDone, raiseRequiredAnnotations } from './jobs.service.js';
import { completePurge } from './purge.service.js';

/**
 * A task was decided (by QA): if it was the job's last open task, the job completes and
 * `job.completed` is published in the same transaction. Redelivery is harmless: completion only
 * moves an active job, under its row lock, so the second delivery finds it completed and stops.
 */
export async function onTaskDecided(db: Db, payload: EventPayload<'task.decided'>, ctx?: Pick<HandlerContext, 'log'>): Promise<boolean> {
  await closeDecidedTask(db, payload);
  const completed = await completeJobIfDone(db, payload.job_id);
  if (completed) ctx?.log.info({ jobId: payload.job_id }, 'job completed');
  return completed;
}

/**
 * worker-assignment erased a purged job's answers: the purge record completes with the count.
 * Redelivery is harmless: only a pending purge is completed.
 */
export async function onAnswersPurged(deps: { db: Db; clock: Clock }, payload: EventPayload<'job.answers_purged'>, ctx?: Pick<HandlerContext, 'log'>): Promise<boolean> {
  const completed = await completePurge(deps, payload);
  if (completed) ctx?.log.info({ jobId: payload.job_id, assignmentsPurged: payload.assignments_purged }, 'job data purge completed');
  return completed;
}

export async function startTaskDispatchConsumers(deps: Deps): Promise<ServiceProcess & { workers: NonNullable<ServiceProcess['workers']> }> {
  // BullMQ duplicates the connection it is given for its blocking commands, so the shared one serves.
  const worker = createConsumer({
    queue: 'task-dispatch',
    connection: deps.redis,
    prefix: deps.prefix,
    logger: deps.logger,
    stalledMs: deps.config.QUEUE_STALLED_MS,
    handlers: {
      'task.decided': async (payload, ctx) => {
        await onTaskDecided(deps.db, payload, ctx);
      },
      'job.answers_purged': async (payload, ctx) => {
        await onAnswersPurged(deps, payload, ctx);
      },
      'task.overlap_requested': async (payload, ctx) => {
        const raised = await raiseRequiredAnnotations(deps.db, payload);
        if (raised) ctx.log.info({ taskId: payload.task_id, required: payload.required_annotations }, 'QA asked for another annotation');
      },
    },
  });
  return { workers: [worker] };
}
