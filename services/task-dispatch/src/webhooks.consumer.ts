import { webhookAddressPolicy, webhookAgent } from './webhook-address.js';
import { Worker } from 'bullmq';
import type { WebhookEventType } from '@fairlabel/contracts';
import { keyringFrom, sql } from '@fairlabel/db';
import { createConsumer, retryOnDatabaseOutage, workerTimings, type HandlerContext } from '@fairlabel/queues';
import type { Deps, ServiceProcess } from '@fairlabel/runtime';
import {
  WEBHOOK_DELIVERY_QUEUE,
  attemptDelivery,
  createDeliveryQueue,
  defaultDeliverySchedule,
  enqueueDeliveries,
  fanOut,
  hasSubscribers,
  maxRetryDelayMs,
  type DeliverySchedule,
  type FanOutEvent,
} from './webhooks.service.js';

export interface WebhookWorkerOptions {
  /** Retry schedule of deliveries (tests shorten the delays). */
  schedule?: DeliverySchedule;
  /** How long a receiver has to answer one attempt. */
  timeoutMs?: number;
  /**
   * job.progress is sent when a decision crosses a 10% step of the job, and is computed at most once
   * per this interval per job, so a job deciding hundreds of tasks a second costs one count query per
   * interval. A step crossed inside the interval is sent by the next decision after it; the end of a
   * job is always announced by job.completed.
   */
  progressIntervalMs?: number;
  concurrency?: number;
}

export const PROGRESS_STEP_PERCENT = 10;

/**
 * The webhooks side of task-dispatch: a consumer of the `webhooks` event queue that turns each event
 * into one delivery row per subscribed endpoint, and a worker of the `webhook-deliveries` queue that
 * makes the signed HTTP requests and records every attempt. A pending delivery whose job Redis lost
 * is re-added by the reconciler (@fairlabel/queues, in the relay process).
 */
export async function startWebhookWorkers(
  deps: Deps,
  opts: WebhookWorkerOptions = {},
): Promise<ServiceProcess & { workers: NonNullable<ServiceProcess['workers']> }> {
  const { db, clock, redis, prefix, logger } = deps;
  const schedule = opts.schedule ?? defaultDeliverySchedule;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const progressIntervalMs = opts.progressIntervalMs ?? 5_000;
  const deliveryQueue = createDeliveryQueue(redis, prefix);
  const policy = webhookAddressPolicy(deps.config.WEBHOOK_ALLOW_PRIVATE_CIDRS);
  const outbound = { policy, agent: webhookAgent(policy) };
  const keyring = keyringFrom(deps.config.SECRETS_ENCRYPTION_KEY, deps.config.SECRETS_ENCRYPTION_OLD_KEYS);

  const deliver = async (event: FanOutEvent) => {
    const ids = await fanOut(db, event);
    await enqueueDeliveries(deliveryQueue, ids, schedule);
  };

  const jobEvent = (type: WebhookEventType) => async (payload: { job_id: string; client_id: string }, ctx: HandlerContext) => {
    // Activation and cancellation can in principle repeat for a job; the event (outbox row) is the unit.
    await deliver({ type, organizationId: payload.client_id, sourceKey: `${type}:${ctx.jobId}`, occurredAt: clock.now(), data: { job_id: payload.job_id } });
  };

  const assignmentEvent =
    (type: WebhookEventType) =>
    async (payload: { assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; reason?: string }) => {
      const { vendor_id, ...data } = payload;
      await deliver({ type, organizationId: vendor_id, sourceKey: `${type}:${payload.assignment_id}`, occurredAt: clock.now(), data });
    };

  async function maybeProgress(jobId: string, clientId: string) {
    if (!(await hasSubscribers(db, clientId, 'job.progress'))) return;
    if (progressIntervalMs > 0) {
      const first = await redis.set(`${prefix}:webhooks:progress:${jobId}`, '1', 'PX', progressIntervalMs, 'NX');
      if (first === null) return;
    }
    const counts = await db
      .selectFrom('tasks')
      .select([
        sql<number>`count(*) FILTER (WHERE status <> 'cancelled')`.as('total'),
        sql<number>`count(*) FILTER (WHERE status = 'decided')`.as('decided'),
      ])
      .where('job_id', '=', jobId)
      .executeTakeFirstOrThrow();
    const total = Number(counts.total);
    const decided = Number(counts.decided);
    if (total === 0) return;
    const percent = Math.floor((decided * 100) / total / PROGRESS_STEP_PERCENT) * PROGRESS_STEP_PERCENT;
    if (percent === 0) return;
    await deliver({
      type: 'job.progress',
      organizationId: clientId,
      // One message per step and endpoint, however many decisions land in it.
      sourceKey: `job.progress:${jobId}:${percent}`,
      occurredAt: clock.now(),
      data: { job_id: jobId, tasks_total: total, tasks_decided: decided, percent },
    });
  }

  const events = createConsumer({
    queue: 'webhooks',
    connection: redis,
    prefix,
    logger,
    stalledMs: deps.config.QUEUE_STALLED_MS,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    handlers: {
      'job.activated': jobEvent('job.activated'),
      'job.cancelled': jobEvent('job.cancelled'),
      'tasks.imported': async (payload, ctx) => {
        await deliver({
          type: 'tasks.imported',
          organizationId: payload.client_id,
          sourceKey: `tasks.imported:${ctx.jobId}`,
          occurredAt: clock.now(),
          data: { job_id: payload.job_id, created: payload.created },
        });
      },
      'job.completed': async (payload) => {
        const job = await db
          .selectFrom('jobs')
          .select(['id', 'completed_at'])
          .select((eb) => [
            eb.selectFrom('tasks').select(sql<number>`count(*)`.as('n')).whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', '<>', 'cancelled').as('tasks_total'),
            eb.selectFrom('tasks').select(sql<number>`count(*)`.as('n')).whereRef('tasks.job_id', '=', 'jobs.id').where('tasks.status', '=', 'decided').as('tasks_decided'),
          ])
          .where('id', '=', payload.job_id)
          .where('client_id', '=', payload.client_id)
          .executeTakeFirst();
        if (!job) return;
        await deliver({
          type: 'job.completed',
          organizationId: payload.client_id,
          sourceKey: `job.completed:${job.id}`,
          occurredAt: job.completed_at ?? clock.now(),
          data: { job_id: job.id, tasks_total: Number(job.tasks_total ?? 0), tasks_decided: Number(job.tasks_decided ?? 0) },
        });
      },
      'task.decided': async (payload) => {
        const task = await db
          .selectFrom('tasks')
          .innerJoin('jobs', 'jobs.id', 'tasks.job_id')
          .select(['tasks.id', 'tasks.external_id', 'tasks.agreement', 'tasks.decided_at'])
          .where('tasks.id', '=', payload.task_id)
          .where('tasks.job_id', '=', payload.job_id)
          .where('jobs.client_id', '=', payload.client_id)
          .executeTakeFirst();
        if (!task) return;
        await deliver({
          type: 'task.decided',
          organizationId: payload.client_id,
          sourceKey: `task.decided:${task.id}`,
          occurredAt: task.decided_at ?? clock.now(),
          data: { job_id: payload.job_id, task_id: task.id, external_id: task.external_id, agreement: task.agreement ?? payload.agreement },
        });
        await maybeProgress(payload.job_id, payload.client_id);
      },
      'assignment.submitted': assignmentEvent('assignment.submitted'),
      'assignment.expired': assignmentEvent('assignment.expired'),
      'assignment.released': assignmentEvent('assignment.released'),
    },
  });

  const deliveryLog = logger.child({ queue: WEBHOOK_DELIVERY_QUEUE });
  const deliveries = new Worker(
    WEBHOOK_DELIVERY_QUEUE,
    async (job, token) => {
      const deliveryId = (job.data as { delivery_id: string }).delivery_id;
      const trigger = job.name === 'manual' ? 'manual' : 'automatic';
      const attempt = job.attemptsMade + 1;
      const isLastAttempt = attempt >= (job.opts.attempts ?? 1);
      // attemptDelivery records the receiver's failures itself and throws only on our own errors; a
      // database outage is retried within seconds, without spending an attempt or backing off for
      // minutes as if the receiver had failed.
      const outcome = await retryOnDatabaseOutage(job, token, deliveryLog, () =>
        attemptDelivery(db, clock, deliveryId, {
          trigger,
          isLastAttempt,
          nextRetryDelayMs: isLastAttempt ? null : maxRetryDelayMs(schedule, attempt),
          timeoutMs,
          outbound,
          keyring,
        }),
      );
      // Throwing hands the job back to BullMQ's backoff; the attempt is already recorded in Postgres.
      if (outcome === 'failed' && trigger === 'automatic') throw new Error(`delivery ${deliveryId} attempt ${attempt} failed`);
    },
    { connection: redis, prefix, concurrency: opts.concurrency ?? 16, ...workerTimings(deps.config.QUEUE_STALLED_MS) },
  );
  deliveries.on('error', (err) => logger.error({ err }, 'webhook delivery worker error'));

  return {
    workers: [events, deliveries],
    stop: async () => {
      await deliveryQueue.close();
      await outbound.agent.close();
    },
  };
}
