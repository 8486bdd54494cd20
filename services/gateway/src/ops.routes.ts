import {
  errorResponses,
  opsFailedPage,
  opsFailedQuery,
  opsJobActionSchema,
  opsJobParams,
  opsOverviewSchema,
  opsQueueParams,
  opsQueueSchema,
  opsQueuesResponse,
  opsRetryQuery,
} from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { discardJob, listFailedJobs, listQueues, openOpsDeps, overview, retryJob, setPaused } from './ops.service.js';

const roles = ['ops', 'admin'] as const;
const tags = ['ops'];
const errors = errorResponses(409);

/**
 * The ops API: queue depths and ages, failed jobs (retry or discard), pause and resume, and an overview
 * of the stack. For ops and admin keys. The ops console (`/ops`) is the same in a browser.
 */
export const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  const ops = openOpsDeps(app.deps);
  app.addHook('onClose', async () => ops.close());

  app.get(
    '/ops/queues',
    {
      config: { roles },
      schema: {
        operationId: 'listOpsQueues',
        tags,
        summary: 'Every queue: waiting, active, delayed, failed, completed in the last hour, age of the oldest waiting job',
        response: { 200: opsQueuesResponse, ...errors },
      },
    },
    async () => listQueues(ops),
  );

  app.get(
    '/ops/queues/:name/failed',
    {
      config: { roles },
      schema: {
        operationId: 'listOpsFailedJobs',
        tags,
        summary: "A queue's failed jobs, most recently failed first, with the error and the attempts made",
        params: opsQueueParams,
        querystring: opsFailedQuery,
        response: { 200: opsFailedPage, ...errors },
      },
    },
    async (request) => listFailedJobs(ops, request.params.name, request.query.limit, request.query.cursor),
  );

  app.post(
    '/ops/queues/:name/failed/:jobId/retry',
    {
      config: { roles },
      schema: {
        operationId: 'retryOpsFailedJob',
        tags,
        summary: 'Put a failed job back to waiting',
        description: 'One more attempt, or with `reset_attempts=true` the queue’s whole retry schedule. A job that is not failed is a 409 `job_not_failed`. Recorded in the audit log.',
        params: opsJobParams,
        querystring: opsRetryQuery,
        response: { 200: opsJobActionSchema, ...errors },
      },
    },
    async (request) => retryJob(ops, callerOf(request), request.params.name, request.params.jobId, request.query.reset_attempts),
  );

  app.delete(
    '/ops/queues/:name/failed/:jobId',
    {
      config: { roles },
      schema: {
        operationId: 'discardOpsFailedJob',
        tags,
        summary: 'Discard a failed job for good',
        description:
          'Removes the job from its queue. An event from the outbox is marked discarded, so the reconciler does not publish it again. A job that is not failed is a 409 `job_not_failed`. Recorded in the audit log with the job’s payload and error.',
        params: opsJobParams,
        response: { 200: opsJobActionSchema, ...errors },
      },
    },
    async (request) => discardJob(ops, callerOf(request), request.params.name, request.params.jobId),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/ops/queues/:name/${action}`,
      {
        config: { roles },
        schema: {
          operationId: action === 'pause' ? 'pauseOpsQueue' : 'resumeOpsQueue',
          tags,
          summary: action === 'pause' ? 'Pause a queue: its consumers take no new jobs (jobs in progress finish; producers keep adding)' : 'Resume a paused queue',
          params: opsQueueParams,
          response: { 200: opsQueueSchema, ...errors },
        },
      },
      async (request) => setPaused(ops, callerOf(request), request.params.name, action === 'pause'),
    );
  }

  app.get(
    '/ops/overview',
    {
      config: { roles },
      schema: {
        operationId: 'getOpsOverview',
        tags,
        summary: 'The stack at a glance: active workers, claims per minute, leases expiring, jobs behind deadline, outbox lag, queues, reconciler repairs',
        response: { 200: opsOverviewSchema, ...errors },
      },
    },
    async () => overview({ ...ops, prefix: app.deps.prefix }),
  );
};
