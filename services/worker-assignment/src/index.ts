import type { RoutePlugin } from '@fairlabel/http';

/** The HTTP routes of worker-assignment, mounted by the gateway under /v1. */
export const workerAssignmentRoutes: RoutePlugin = {
  name: 'worker-assignment',
  plugin: async () => {},
};
