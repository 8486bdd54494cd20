import type { RoutePlugin } from '@fairlabel/http';
import { workerRoutes } from './workers.routes.js';
import { assignmentRoutes } from './assignments.routes.js';

/** The HTTP routes of worker-assignment, mounted by the gateway under /v1. */
export const workerAssignmentRoutes: RoutePlugin = {
  name: 'worker-assignment',
  plugin: async (app) => {
    await app.register(workerRoutes);
    await app.register(assignmentRoutes);
  },
};
