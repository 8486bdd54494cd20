import { z } from 'zod';
import {
  assignmentIdParams,
  assignmentSchema,
  claimQuery,
  errorResponses,
  leaseSchema,
  meSchema,
  releaseBody,
  submissionSchema,
  submitBody,
  vendorClaimBody,
  vendorClaimResponse,
} from '@fairlabel/contracts';
import { callerOf, forbidden, type AuthContext, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { claimForVendor, claimNext, NO_WORK_RETRY_AFTER_SECONDS } from './claim.service.js';
import { heartbeat, release } from './leases.service.js';
import { me } from './me.service.js';
import { submit } from './submit.service.js';
import { SlotWakeups } from './wakeups.js';

const errors = errorResponses(409, 422);
const tags = ['assignments'];

/** The worker a worker key acts for; auth guarantees it is set for that role. */
function workerOf(caller: AuthContext): string {
  if (!caller.workerId) throw forbidden('this endpoint needs a worker key');
  return caller.workerId;
}

export const assignmentRoutes: FastifyPluginAsyncZod = async (app) => {
  const { deps } = app;
  const wakeups = new SlotWakeups(deps.redis, deps.prefix, deps.logger);
  app.addHook('onClose', async () => wakeups.close());

  app.post(
    '/assignments/next',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'claimNextAssignment',
        tags,
        summary: 'Claim the next task you are eligible for',
        description:
          'Returns one assignment with its lease, or 204 with Retry-After when nothing is eligible. With `wait`, holds the request ' +
          'until work appears (new tasks, expired or released leases) or the wait ends. A worker at their daily active-time limit gets 409 `daily_limit_reached`.',
        querystring: claimQuery,
        response: { 200: assignmentSchema, 204: z.null().describe('No eligible task now; retry after Retry-After seconds.'), ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { wait } = request.query;
      // A client that hangs up ends its long poll instead of claiming a task nobody will receive. Only
      // a long poll waits, so only it listens: aborting raises a DOMException, which is costly for
      // every request that has simply ended.
      let signal: AbortSignal | undefined;
      if (wait > 0) {
        const abort = new AbortController();
        signal = abort.signal;
        request.raw.once('close', () => abort.abort());
        reply.raw.once('close', () => abort.abort());
      }
      const claimed = await claimNext(deps, wakeups, workerOf(caller), caller.organizationId, wait, signal);
      if (!claimed) return reply.status(204).header('retry-after', String(NO_WORK_RETRY_AFTER_SECONDS)).send(null);
      return claimed;
    },
  );

  app.post(
    '/vendor/assignments::claim',
    {
      config: { roles: ['vendor'] },
      schema: {
        operationId: 'vendorClaimAssignments',
        tags,
        summary: 'Claim up to 500 assignments for named workers of yours',
        description: 'Each assignment passes the same checks as a worker’s own claim. Per worker, `error` says why fewer were granted than asked.',
        body: vendorClaimBody,
        response: { 200: vendorClaimResponse, ...errors },
      },
    },
    async (request) => ({ data: await claimForVendor(deps, callerOf(request).organizationId, request.body.claims) }),
  );

  app.post(
    '/assignments/:id/heartbeat',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'heartbeatAssignment',
        tags,
        summary: 'Extend your lease (holder only)',
        description: 'Refused as submit would be: 409 `task_closed` once the task takes no more answers, 403 `worker_suspended` / `skill_suspended` / `job_suspended`.',
        params: assignmentIdParams,
        response: { 200: leaseSchema, ...errors },
      },
    },
    async (request) => heartbeat(deps, request.params.id, workerOf(callerOf(request))),
  );

  app.post(
    '/assignments/:id/release',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'releaseAssignment',
        tags,
        summary: 'Give a task back with a reason; its slot opens again at once',
        params: assignmentIdParams,
        body: releaseBody,
        response: { 200: leaseSchema, ...errors },
      },
    },
    async (request) => release(deps, request.params.id, workerOf(callerOf(request)), request.body.reason, request.body.note),
  );

  app.post(
    '/assignments/:id/submit',
    {
      // The answer's text is checked by the submit itself, after whose lease it is (404) and whether the
      // lease still takes an answer (403/409), then 422: the JSON guard's 400 invalid_text would come first.
      config: { roles: ['worker'], ownTextChecks: true },
      schema: {
        operationId: 'submitAssignment',
        tags,
        summary: 'Submit your answer before the lease expires',
        description:
          'The answer is checked against the job’s label config (422 names the failing field). Submitting the same answer again returns the first result; ' +
          'a different answer for a submitted assignment is 409 `already_submitted`; after expiry, 409 `lease_expired`. ' +
          'Once the task takes no more answers (decided, or its job cancelled or completed, e.g. before a data purge), 409 `task_closed`; ' +
          'a worker suspended by their vendor, from the job’s skill, or from the job itself, gets 403 `worker_suspended` / `skill_suspended` / `job_suspended` (a paused job still takes answers of leases held).',
        params: assignmentIdParams,
        body: submitBody,
        response: { 200: submissionSchema, ...errors },
      },
    },
    async (request) => submit(deps, request.params.id, workerOf(callerOf(request)), request.body.answer, request.body.time_spent_ms),
  );

  app.get(
    '/me',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'getMe',
        tags,
        summary: 'Your profile, skills, live leases and earnings from the ledger (pending, approved, paid)',
        response: { 200: meSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return me(deps.db, workerOf(caller), caller.organizationId, deps.clock.now());
    },
  );
};
