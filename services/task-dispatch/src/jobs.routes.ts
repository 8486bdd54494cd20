import {
  createJobBody,
  errorResponses,
  idParamsSchema,
  jobPageSchema,
  jobSchema,
  listJobsQuery,
  updateJobBody,
} from '@fairlabel/contracts';
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createJob, getJob, jobTransitions, listJobs, transitionJob, updateJob, type JobAction } from './jobs.service.js';

const errors = errorResponses(409, 422);
const clientOnly = { roles: ['client'] as const };

export const jobRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  app.post(
    '/jobs',
    {
      config: clientOnly,
      schema: {
        operationId: 'createJob',
        tags: ['jobs'],
        summary: 'Create a job (a draft until activated)',
        description: 'The label config is checked against the task type; a wrong one is a 422 `invalid_label_config` naming each field. Honors `Idempotency-Key`.',
        body: createJobBody,
        response: { 201: jobSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createJob(db, caller.organizationId, request.body) }));
    },
  );

  app.get(
    '/jobs',
    {
      config: clientOnly,
      schema: {
        operationId: 'listJobs',
        tags: ['jobs'],
        summary: 'Your jobs, oldest first',
        querystring: listJobsQuery,
        response: { 200: jobPageSchema, ...errors },
      },
    },
    async (request) => listJobs(db, callerOf(request).organizationId, request.query),
  );

  app.get(
    '/jobs/:id',
    {
      config: clientOnly,
      schema: { operationId: 'getJob', tags: ['jobs'], summary: 'One of your jobs', params: idParamsSchema, response: { 200: jobSchema, ...errors } },
    },
    async (request) => getJob(db, callerOf(request).organizationId, request.params.id),
  );

  app.patch(
    '/jobs/:id',
    {
      config: clientOnly,
      schema: {
        operationId: 'updateJob',
        tags: ['jobs'],
        summary: 'Change a draft or paused job',
        description: 'Task type, label config, overlap, prices, currency and contains_pii change only while the job is a draft (409 `field_locked` otherwise).',
        params: idParamsSchema,
        body: updateJobBody,
        response: { 200: jobSchema, ...errors },
      },
    },
    async (request) => updateJob(db, callerOf(request).organizationId, request.params.id, request.body),
  );

  const transitionDocs: Record<JobAction, string> = {
    activate: 'draft -> active. Needs at least one imported task (else 409 `job_has_no_tasks`).',
    pause: 'active -> paused: no new claims; leases already granted run out normally.',
    resume: 'paused -> active (or completed at once, when every task was decided meanwhile).',
    cancel: 'draft | active | paused -> cancelled; its open tasks are cancelled.',
  };
  for (const action of Object.keys(jobTransitions) as JobAction[]) {
    app.post(
      `/jobs/:id/${action}`,
      {
        config: clientOnly,
        schema: {
          operationId: `${action}Job`,
          tags: ['jobs'],
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a job`,
          description: `${transitionDocs[action]} Any other starting status is a 409 \`invalid_transition\` naming the current status.`,
          params: idParamsSchema,
          response: { 200: jobSchema, ...errors },
        },
      },
      async (request) => transitionJob(db, callerOf(request).organizationId, request.params.id, action),
    );
  }
};
