import { z } from 'zod';
import { errorResponses, idParamsSchema, resultsQuerySchema } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { startExport } from './results.service.js';

export const resultsRoutes: FastifyPluginAsyncZod = async (app) => {
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
      const started = await startExport(app.deps, callerOf(request), request.params.id, request.query);
      return reply
        .type(started.contentType)
        .header('content-disposition', `attachment; filename="${started.filename}"`)
        .header('cache-control', 'no-store')
        .send(started.stream);
    },
  );
};
