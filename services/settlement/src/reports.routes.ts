import { z } from 'zod';
import { errorResponses, fairPayQuery, fairPayReportSchema } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { fairPayCsv, fairPayReport } from './fair-pay.service.js';

/** Fair-work reports: platform staff see everyone; a vendor sees its own workers. */
export const reportRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;
  app.get(
    '/reports/fair-pay',
    {
      config: { roles: ['finance', 'admin', 'ops', 'vendor'] },
      schema: {
        operationId: 'getFairPayReport',
        tags: ['reports'],
        summary: 'Effective hourly earnings against regional floors, earnings by tier and vendor, Gini, top-ups, rejection and suspension rates, automation share',
        description: 'Hours count all working time (accepted, rejected, gold, review, and leases that expired after work was shown by heartbeats). `format=csv`: one row per worker.',
        querystring: fairPayQuery,
        response: { 200: z.union([fairPayReportSchema, z.string().describe('CSV when `format=csv`.')]), ...errorResponses() },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const report = await fairPayReport(db, request.query, caller.role === 'vendor' ? caller.organizationId : null);
      if (request.query.format === 'csv') {
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="fair-pay.csv"').send(fairPayCsv(report));
      }
      return report;
    },
  );
};
