import { runServiceProcess } from '@fairlabel/runtime';
import { startTaskDispatchConsumers } from './task-dispatch.consumer.js';
import { startWebhookWorkers } from './webhooks.consumer.js';

// The task-dispatch process: job completion (task.decided events) and outbound webhook deliveries.
await runServiceProcess('task-dispatch', async (deps) => {
  const core = await startTaskDispatchConsumers(deps);
  const hooks = await startWebhookWorkers(deps);
  return {
    workers: [...core.workers, ...hooks.workers],
    stop: async () => {
      await core.stop?.();
      await hooks.stop?.();
    },
  };
});
