import { appealBody, appealIdParams, appealListQuery, appealListSchema, appealSchema, assignmentIdParams, decideAppealBody, errorResponses } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { workerOf } from '../reviews/reviews.routes.js';
import { appeal, appealsToDecide, decideAppeal } from './appeals.service.js';

const errors = errorResponses(409);
const tags = ['appeals'];

export const appealRoutes: FastifyPluginAsyncZod = async (app) => {
  const { deps } = app;

  app.post(
    '/assignments/:id/appeal',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'appealAssignment',
        tags,
        summary: 'Appeal the rejection of your assignment',
        description:
          'Within 7 days of the rejection, once per assignment. 409 `not_rejected` (not rejected by the decision in force), `already_appealed`, ' +
          '`appeal_window_closed`; another worker\'s assignment is a 404. A worker of a higher level decides it.',
        params: assignmentIdParams,
        body: appealBody,
        response: { 201: appealSchema, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await appeal(deps, workerOf(callerOf(request)), request.params.id, request.body.reason)),
  );

  app.get(
    '/appeals',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'listAppealsToDecide',
        tags,
        summary: 'Pending appeals you may decide',
        description: 'Appeals of workers below your level in the job\'s skill (not yours; not your vendor\'s when the job has `review_same_vendor: false`), oldest first.',
        querystring: appealListQuery,
        response: { 200: appealListSchema, ...errors },
      },
    },
    async (request) => ({ data: await appealsToDecide(deps, workerOf(callerOf(request)), request.query.limit) }),
  );

  app.post(
    '/appeals/:id/decide',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'decideAppeal',
        tags,
        summary: 'Uphold or deny an appeal',
        description:
          'Upheld: a new accepting decision supersedes the rejection (`assignment.decided` with `supersedes_decision_id`; settlement pays it). ' +
          '403 when you may not decide it (your own, not a higher level, your vendor\'s when the job forbids it); 409 `appeal_decided`, `decision_changed`.',
        params: appealIdParams,
        body: decideAppealBody,
        response: { 200: appealSchema, ...errors },
      },
    },
    async (request) => decideAppeal(deps, workerOf(callerOf(request)), request.params.id, request.body.outcome, request.body.comment),
  );
};
