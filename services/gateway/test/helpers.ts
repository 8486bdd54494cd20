import { OutboxRelay } from '@fairlabel/queues';
import { startTaskDispatchConsumers } from '@fairlabel/task-dispatch/consumers';
import { integrationTest } from '@fairlabel/testing';
import { createWorkerAssignmentConsumer } from '@fairlabel/worker-assignment/consumers';
import { buildGateway } from '../src/app.js';

/** The gateway's fixture: the whole gateway app on the file's stack. */
export const test = integrationTest({ app: buildGateway });

/**
 * The stack as it runs across services: the gateway, plus the outbox relay and both services'
 * consumers running for the whole file, so events a request publishes are delivered and handled.
 */
export const stackTest = test.extend('pipeline', { scope: 'file', auto: true }, async ({ env }, { onCleanup }) => {
  const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
  await relay.start();
  const workers = [...(await startTaskDispatchConsumers(env)).workers, createWorkerAssignmentConsumer(env, env.redis)];
  onCleanup(async () => {
    await relay.stop();
    await Promise.all(workers.map((w) => w.close()));
  });
  return workers.length;
});

/** Reads until `done` holds (an event was handled), or fails with the last value read. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in time; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
