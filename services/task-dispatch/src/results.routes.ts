import { z } from 'zod';
import { errorResponses, idParamsSchema, resultsQuerySchema } from '@fairlabel/contracts';
import { callerOf, notFound, unprocessable, writeAudit, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { exportContentTypes, exportStream, findClientJob } from './results.service.js';

export const resultsRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, clock } = app.deps;

  app.get(
    '/jobs/:id/results',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'exportJobResults',
        tags: ['results'],
        summary: "Export a job's results",
        description:
          "Streams every task of the job with its final result, agreement, external_id, payload, gold and prediction; `include=annotations` adds each annotator's answer. " +
          'Formats: `jsonl` (one task per line), `csv` (structured columns hold JSON), `coco` (bounding-box jobs only), `labelstudio` (Label Studio task format; re-imports unchanged). ' +
          'Memory stays flat for any job size. Every export is recorded in the audit log.',
        params: idParamsSchema,
        querystring: resultsQuerySchema,
        response: {
          200: z.unknown().describe('The export, streamed in the requested format (a byte stream, not JSON-serialised by the API).'),
          ...errorResponses(422),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { format, include } = request.query;
      const job = await findClientJob(db, caller.organizationId, request.params.id);
      if (!job) throw notFound('job');
      if (format === 'coco' && job.task_type !== 'bounding_boxes') {
        throw unprocessable('format_not_supported', `COCO export is for bounding_boxes jobs; this job's task type is ${job.task_type}`, [
          { path: 'query.format', message: 'use jsonl, csv or labelstudio' },
        ]);
      }
      const withAnnotations = include === 'annotations';
      await writeAudit(db, caller, {
        action: 'job.results_exported',
        resourceType: 'job',
        resourceId: job.id,
        details: { format, include_annotations: withAnnotations, job_status: job.status },
      });
      const { type, extension } = exportContentTypes[format];
      return reply
        .type(type)
        .header('content-disposition', `attachment; filename="job-${job.id}-results.${extension}"`)
        .header('cache-control', 'no-store')
        .send(exportStream(db, job, format, withAnnotations, clock.now()));
    },
  );
};
