import { errorResponses, idParamsSchema, jobProgressSchema } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { jobProgress } from './progress.service.js';

const errors = errorResponses();

export const progressRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, clock } = app.deps;
  app.get(
    '/jobs/:id/progress',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'getJobProgress',
        tags: ['jobs'],
        summary: 'Tasks by status, assignments, agreement and cost so far, and an ETA',
        params: idParamsSchema,
        response: { 200: jobProgressSchema, ...errors },
      },
    },
    async (request) => jobProgress(db, callerOf(request).organizationId, request.params.id, clock.now()),
  );
};
