import type { RoutePlugin } from '@fairlabel/http';

/** The HTTP routes of task-dispatch, mounted by the gateway under /v1. */
export const taskDispatchRoutes: RoutePlugin = {
  name: 'task-dispatch',
  plugin: async () => {},
};
