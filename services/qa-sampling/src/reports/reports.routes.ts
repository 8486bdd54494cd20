import { errorResponses, idParamsSchema, jobQaReportSchema, workerQualitySchema } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { jobQaReport, workerQuality } from './reports.service.js';

const errors = errorResponses();
const tags = ['quality'];

/** QA's reports. Each is scoped in SQL to the caller: a client's own jobs, a vendor's own workers, a worker itself. */
export const reportRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;
  app.get(
    '/jobs/:id/qa',
    {
      config: { roles: ['client', 'ops', 'admin'] },
      schema: {
        operationId: 'getJobQaReport',
        tags,
        summary: 'Quality of a job: agreement distribution, gold accuracy by worker and vendor, extra overlap, automation share, estimated accuracy',
        description: 'A client reads its own jobs (another client\'s job is a 404); ops and admin keys read any.',
        params: idParamsSchema,
        response: { 200: jobQaReportSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return jobQaReport(db, caller.role === 'client' ? caller.organizationId : null, request.params.id);
    },
  );
  app.get(
    '/workers/:id/quality',
    {
      config: { roles: ['vendor', 'ops', 'admin'] },
      schema: {
        operationId: 'getWorkerQuality',
        tags,
        summary: 'A worker\'s gold accuracy and level per skill, decisions, suspensions and promotions with their evidence',
        description: 'A vendor reads its own workers (another vendor\'s worker is a 404); ops and admin keys read any.',
        params: idParamsSchema,
        response: { 200: workerQualitySchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return workerQuality(db, caller.role === 'vendor' ? caller.organizationId : null, request.params.id);
    },
  );
  app.get(
    '/me/quality',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'getMyQuality',
        tags,
        summary: 'Your gold accuracy and level per skill, decisions, suspensions and promotions, and the gold answers behind them',
        response: { 200: workerQualitySchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return workerQuality(db, caller.organizationId, caller.workerId!);
    },
  );
};
