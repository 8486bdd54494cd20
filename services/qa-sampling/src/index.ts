import type { RoutePlugin } from '@fairlabel/http';

/** The HTTP routes of qa-sampling, mounted by the gateway under /v1. */
export const qaSamplingRoutes: RoutePlugin = {
  name: 'qa-sampling',
  plugin: async () => {},
};
