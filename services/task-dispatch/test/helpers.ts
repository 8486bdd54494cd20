import type { RoutePlugin } from '@fairlabel/http';
import { importRoutes } from '../src/import.routes.js';
import { jobRoutes } from '../src/jobs.routes.js';
import { progressRoutes } from '../src/progress.routes.js';

/** The job, import and progress routes alone, so these tests do not depend on the rest of the service. */
export const jobAndImportRoutes: RoutePlugin = {
  name: 'task-dispatch-jobs',
  plugin: async (app) => {
    await app.register(jobRoutes);
    await app.register(importRoutes);
    await app.register(progressRoutes);
  },
};

export const ndjson = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join('\n') + '\n';
