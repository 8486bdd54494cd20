import { z } from 'zod';
import {
  createJobBody,
  currencySchema,
  errorResponses,
  idParamsSchema,
  jobPageSchema,
  jobSchema,
  listJobsQuery,
  updateJobBody,
} from '@fairlabel/contracts';
import { badRequest, callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createJob, getJob, jobTransitions, labelConfigXmlOf, listJobs, transitionJob, updateJob, type JobAction } from './jobs.service.js';

const xmlTypes = ['application/xml', 'text/xml'];

/**
 * The fields of a job created from a Label Studio XML body (`Content-Type: application/xml`): the XML
 * is the label config, the rest comes from the query string. Other fields can be set with PATCH.
 */
const xmlJobQuery = z.strictObject({
  name: z.string(),
  pay_per_annotation: z.coerce.number(),
  client_price_per_item: z.coerce.number(),
  currency: currencySchema,
  instructions: z.string().optional(),
  overlap: z.coerce.number().optional(),
  required_skill: z.string().optional(),
  min_level: z.coerce.number().optional(),
  priority: z.coerce.number().optional(),
  lease_seconds: z.coerce.number().optional(),
  deadline: z.string().optional(),
});

const labelConfigQuery = z.strictObject({
  format: z.enum(['fairlabel', 'labelstudio']).default('fairlabel').describe('`labelstudio`: Label Studio XML (application/xml) that a Label Studio project accepts.'),
});

const errors = errorResponses(409, 422);
const clientOnly = { roles: ['client'] as const };

export const jobRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  // A Label Studio XML config as the whole body; read as text, within the usual body limit.
  app.addContentTypeParser(xmlTypes, { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.post(
    '/jobs',
    {
      config: clientOnly,
      schema: {
        operationId: 'createJob',
        tags: ['jobs'],
        summary: 'Create a job (a draft until activated)',
        description:
          'The label config is a v2 config (objects and named controls), Label Studio XML (`label_config` as a string with `label_config_format: "labelstudio"`), ' +
          'or with `task_type` the first API\'s per-type form (converted). Or send the Label Studio XML itself as the body with `Content-Type: application/xml` ' +
          'and the job\'s fields in the query string (`name`, `pay_per_annotation`, `client_price_per_item`, `currency`; optional `instructions`, `overlap`, ' +
          '`required_skill`, `min_level`, `priority`, `lease_seconds`, `deadline`). A wrong config is a 422 `invalid_label_config` naming each field ' +
          '(XML: the tag and its line). Honors `Idempotency-Key`.',
        body: createJobBody,
        response: { 201: jobSchema, ...errors },
      },
      preValidation: async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!xmlTypes.includes(type)) return;
        const query = xmlJobQuery.safeParse(request.query);
        if (!query.success) {
          throw badRequest(
            'validation_failed',
            'with an XML body, the job\'s fields come in the query string',
            query.error.issues.map((i) => ({ path: `querystring.${i.path.join('.')}`, message: i.message })),
          );
        }
        // Validated as a JSON body would be, by the route's body schema, which runs next.
        (request as { body: unknown }).body = { ...query.data, label_config: request.body, label_config_format: 'labelstudio' };
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

  app.get(
    '/jobs/:id/label-config',
    {
      config: clientOnly,
      schema: {
        operationId: 'getJobLabelConfig',
        tags: ['jobs'],
        summary: "The job's label config, as fairlabel JSON or Label Studio XML",
        description:
          '`format=labelstudio` answers the Label Studio XML (application/xml) to create the Label Studio project the `labelstudio` export loads into: ' +
          'the XML the job was created from, unchanged, or written from the config with the same control and object names.',
        params: idParamsSchema,
        querystring: labelConfigQuery,
        response: { 200: z.unknown().describe('The v2 config (JSON), or the XML as text.'), ...errors },
      },
    },
    async (request, reply) => {
      const job = await getJob(db, callerOf(request).organizationId, request.params.id);
      if (request.query.format === 'labelstudio') return reply.type('application/xml; charset=utf-8').send(labelConfigXmlOf(job));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(job.label_config));
    },
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
