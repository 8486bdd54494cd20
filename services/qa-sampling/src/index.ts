import type { RoutePlugin } from '@fairlabel/http';
import { reportRoutes } from './reports/reports.routes.js';

/** The HTTP routes of qa-sampling, mounted by the gateway under /v1. */
export const qaSamplingRoutes: RoutePlugin = {
  name: 'qa-sampling',
  plugin: async (app) => {
    await app.register(reportRoutes);
  },
};
