import type { RoutePlugin } from '@fairlabel/http';
import { reportRoutes } from './reports/reports.routes.js';
import { aggregateRoutes } from './aggregate-http/aggregate.routes.js';
import { appealRoutes } from './appeals/appeals.routes.js';
import { reviewRoutes } from './reviews/reviews.routes.js';

/** The HTTP routes of qa-sampling, mounted by the gateway under /v1. */
export const qaSamplingRoutes: RoutePlugin = {
  name: 'qa-sampling',
  plugin: async (app) => {
    await app.register(reportRoutes);
    // Its own child plugin: it reads bodies as raw streams, a parser setting that must not reach other routes.
    await app.register(aggregateRoutes());
    await app.register(reviewRoutes);
    await app.register(appealRoutes);
  },
};

export { aggregateRoutes, AGGREGATE_ROLES } from './aggregate-http/aggregate.routes.js';
export { DEFAULT_AGGREGATE_LIMITS, type AggregateLimits } from './aggregate-http/aggregate.service.js';
