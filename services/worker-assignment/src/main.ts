import { runServiceProcess } from '@fairlabel/runtime';
import { startLeaseExpiry } from './lease-expiry.scheduler.js';
import { createWorkerAssignmentConsumer } from './worker-assignment.consumer.js';

// The worker-assignment process: the lease-expiry scheduler and the consumer that wakes long-polling
// claimers when slots open.
await runServiceProcess('worker-assignment', async (deps) => {
  const expiry = await startLeaseExpiry({ ...deps, stalledMs: deps.config.QUEUE_STALLED_MS });
  const consumer = createWorkerAssignmentConsumer(deps, deps.redis, deps.config.QUEUE_STALLED_MS);
  return { workers: [expiry.worker, consumer], stop: () => expiry.stop() };
});
