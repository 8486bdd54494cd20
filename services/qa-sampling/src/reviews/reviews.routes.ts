import { z } from 'zod';
import { completeReviewBody, errorResponses, reviewIdParams, reviewLeaseSchema, reviewResultSchema, reviewSchema } from '@fairlabel/contracts';
import { callerOf, forbidden, type AuthContext, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { completeReview, heartbeatReview, nextReview } from './reviews.service.js';

const errors = errorResponses(409, 422);
const tags = ['reviews'];
/** How long a reviewer with nothing to review waits before asking again. */
export const NO_REVIEW_RETRY_AFTER_SECONDS = 10;

export function workerOf(caller: AuthContext): string {
  if (!caller.workerId) throw forbidden('this endpoint needs a worker key');
  return caller.workerId;
}

export const reviewRoutes: FastifyPluginAsyncZod = async (app) => {
  const { deps } = app;

  app.post(
    '/reviews/next',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'claimNextReview',
        tags,
        summary: 'Lease the next sampled submission to review',
        description:
          'A share of submissions (the job\'s `review_sample_rate`) is reviewed by workers at or above its `reviewer_level`. Returns the item, the ' +
          'answer under review and a lease of the job\'s lease time, or 204 with Retry-After when there is nothing you may review. Never your own ' +
          'work or a task you annotated; not your vendor\'s work when the job has `review_same_vendor: false`. A lease that runs out returns the review to the pool.',
        response: { 200: reviewSchema, 204: z.null().describe('Nothing to review now; retry after Retry-After seconds.'), ...errors },
      },
    },
    async (request, reply) => {
      const review = await nextReview(deps, workerOf(callerOf(request)));
      if (!review) return reply.status(204).header('retry-after', String(NO_REVIEW_RETRY_AFTER_SECONDS)).send(null);
      return review;
    },
  );

  app.post(
    '/reviews/:id/heartbeat',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'heartbeatReview',
        tags,
        summary: 'Extend your review lease',
        description: 'Another worker\'s review is a 404; an expired lease is 409 `lease_expired`, a completed review 409 `review_completed`.',
        params: reviewIdParams,
        response: { 200: reviewLeaseSchema, ...errors },
      },
    },
    async (request) => heartbeatReview(deps, workerOf(callerOf(request)), request.params.id),
  );

  app.post(
    '/reviews/:id/complete',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'completeReview',
        tags,
        summary: 'Accept, reject or correct the reviewed answer',
        description:
          '`accept`/`reject` decide the reviewed assignment, superseding a consensus decision that says otherwise (settlement pays or reverses the ' +
          'difference). `correct` takes a `corrected_answer` (validated like a submit; 422 `invalid_answer`): the answer is judged against it, and ' +
          'when the task has no decision yet the correction becomes its result. The review is paid at the job\'s review rate (`review.completed`).',
        params: reviewIdParams,
        body: completeReviewBody,
        response: { 200: reviewResultSchema, ...errors },
      },
    },
    async (request) => completeReview(deps, workerOf(callerOf(request)), request.params.id, request.body),
  );
};
