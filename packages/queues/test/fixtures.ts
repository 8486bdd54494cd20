import { randomInt } from 'node:crypto';
import { Queue } from 'bullmq';
import { OutboxRelay, type OutboxRelayOptions } from '../src/index.js';
import { queuesTest } from '../src/testing/index.js';

// What the relay, batch and reconciler tests share: an assignment.submitted payload, the handlers of
// the qa-sampling queue's other events, and a stack with that queue and relays on it.

/** An assignment.submitted payload; without an id, one no other test uses. */
export function submittedPayload(assignmentId = randomInt(1, 2 ** 31)) {
  return {
    assignment_id: assignmentId,
    task_id: assignmentId,
    job_id: '00000000-0000-4000-8000-000000000001',
    worker_id: '00000000-0000-4000-8000-000000000002',
    vendor_id: '00000000-0000-4000-8000-000000000003',
  };
}

/** The qa-sampling queue's other events, which these tests do not publish (a consumer must handle every event of its queue). */
export const otherQaEvents = { 'job.activated': async () => {}, 'tasks.imported': async () => {} };

/**
 * Each test has its own key prefix, so its `qa-sampling` queue (`queue`) starts empty; `relay(options)`
 * makes relays on it (polling every 50 ms unless told), stopped when the test ends.
 */
export const relayTest = queuesTest
  .extend('queue', async ({ redis, prefix }, { onCleanup }) => {
    const queue = new Queue('qa-sampling', { connection: redis, prefix });
    onCleanup(() => queue.close());
    return queue;
  })
  .extend('relay', async ({ db, database, redis, prefix, logger }, { onCleanup }) => {
    const relays: OutboxRelay[] = [];
    onCleanup(async () => {
      await Promise.all(relays.map((r) => r.stop()));
    });
    return (opts: Partial<Pick<OutboxRelayOptions, 'batchSize' | 'batchBytes' | 'claimRows' | 'pollMs'>> = {}) => {
      const relay = new OutboxRelay({ db, databaseUrl: database.url, redis, prefix, logger, pollMs: 50, ...opts });
      relays.push(relay);
      return relay;
    };
  });
