import type { RoutePlugin } from '@fairlabel/http';
import { jobRoutes } from './jobs.routes.js';
import { importRoutes } from './import.routes.js';
import { progressRoutes } from './progress.routes.js';
import { resultsRoutes } from './results.routes.js';
import { webhookRoutes } from './webhooks.routes.js';
import { purgeRoutes } from './purge.routes.js';

/** The HTTP routes of task-dispatch, mounted by the gateway under /v1. */
export const taskDispatchRoutes: RoutePlugin = {
  name: 'task-dispatch',
  plugin: async (app) => {
    await app.register(jobRoutes);
    await app.register(importRoutes);
    await app.register(progressRoutes);
    await app.register(resultsRoutes);
    await app.register(webhookRoutes);
    await app.register(purgeRoutes);
  },
};
