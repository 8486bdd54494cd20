import { errorResponses, idParamsSchema, jobDataPurgeSchema } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { getPurge, requestPurge } from './purge.service.js';

export const purgeRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  app.delete(
    '/jobs/:id/data',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'purgeJobData',
        tags: ['jobs'],
        summary: "Purge a finished job's data",
        description:
          'On a completed or cancelled job: removes task payloads, predictions, gold answers and final results at once, and every annotator answer shortly after ' +
          '(they are erased by the service that holds them). Answers **202** with `status: pending` until the answers are erased, then **200** with ' +
          '`status: completed` and `assignments_purged`; follow it with `GET /v1/jobs/{id}/data-purge`. Exports stop showing answers from the first request. ' +
          'Counts, statuses, agreement, time spent and the ledger stay, so reports and invoices still add up. Audit-logged; a second call changes nothing ' +
          '(`already_requested: true`). Any other status than completed or cancelled is a 409 `job_not_finished`.',
        params: idParamsSchema,
        response: { 200: jobDataPurgeSchema, 202: jobDataPurgeSchema, ...errorResponses(409) },
      },
    },
    async (request, reply) => {
      const purge = await requestPurge(app.deps, callerOf(request), request.params.id);
      return reply.status(purge.status === 'completed' ? 200 : 202).send(purge);
    },
  );

  app.get(
    '/jobs/:id/data-purge',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'getJobDataPurge',
        tags: ['jobs'],
        summary: "The state of a job's data purge",
        description: '`pending` until every annotator answer is erased, then `completed` with `assignments_purged`. 404 when no purge was requested.',
        params: idParamsSchema,
        response: { 200: jobDataPurgeSchema, ...errorResponses() },
      },
    },
    async (request) => getPurge(db, callerOf(request).organizationId, request.params.id),
  );
};
