import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { eventSchemas, subscriptions, type EventName, type EventPayload, type QueueName } from '@fairlabel/contracts';
import type { Logger } from '@fairlabel/observability';

export interface HandlerContext {
  jobId: string;
  attempt: number;
  log: Logger;
}
export type EventHandler<E extends EventName> = (payload: EventPayload<E>, ctx: HandlerContext) => Promise<void>;
export type HandlerMap = { [E in EventName]?: EventHandler<E> };

export interface ConsumerOptions {
  queue: QueueName;
  handlers: HandlerMap;
  connection: Redis;
  prefix: string;
  logger: Logger;
  concurrency?: number;
}

/**
 * A BullMQ worker for one queue. It refuses to start unless every event the queue subscribes to has
 * exactly one handler (an event without one would pile up or be dropped), validates each payload at
 * the boundary (an invalid payload fails at once, unretried, and stays visible as failed), and lets
 * BullMQ retry handler errors with the queue's exponential backoff.
 */
export function createConsumer(opts: ConsumerOptions): Worker {
  const subscribed = subscriptions[opts.queue];
  const handled = Object.keys(opts.handlers);
  const missing = subscribed.filter((e) => !handled.includes(e));
  const extra = handled.filter((e) => !subscribed.includes(e));
  if (missing.length || extra.length) {
    throw new Error(
      `queue ${opts.queue}: ${missing.length ? `no handler for ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `handlers for unsubscribed ${extra.join(', ')}` : ''}`,
    );
  }
  const log = opts.logger.child({ queue: opts.queue });
  const worker = new Worker(
    opts.queue,
    async (job: Job) => {
      const event = job.name as EventName;
      const handler = opts.handlers[event] as EventHandler<EventName> | undefined;
      const schema = eventSchemas[event];
      if (!handler || !schema) throw new UnrecoverableError(`no handler for event ${job.name} on queue ${opts.queue}`);
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${parsed.error.message}`);
      await handler(parsed.data as EventPayload<EventName>, {
        jobId: String(job.id),
        attempt: job.attemptsMade + 1,
        log: log.child({ jobId: job.id, event }),
      });
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency ?? 8, autorun: true },
  );
  worker.on('failed', (job, err) => {
    log.warn({ jobId: job?.id, event: job?.name, attempt: job?.attemptsMade, err: err.message }, 'event handler failed');
  });
  worker.on('error', (err) => log.error({ err }, 'queue worker error'));
  return worker;
}
