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
          'Formats: `jsonl` (one task per line), `csv` (structured columns hold JSON), `labelstudio` (Label Studio JSON with the job\'s own control and object names, ' +
          'region ids, rotation, percent geometry, original image sizes when known and span text; loads into the Label Studio project made from ' +
          '`GET /v1/jobs/{id}/label-config?format=labelstudio`, and re-imports into fairlabel unchanged), `coco` (rectangle and polygon controls: `annotations` holds the ' +
          'decided results in pixels, `gold_annotations` the gold answers, `annotator_annotations` with include=annotations every submitted answer, ' +
          '`fairlabel_unsized_annotations` the regions of images whose size is unknown, in percent; `images[].width/height` when known), `yolo` (rectangle controls: ' +
          'a tar of classes.txt, notes.json and labels/<image stem>.txt per decided task, `class x_center y_center width height` in 0..1; rotated boxes as the box around them), ' +
          '`conll` (a labels control: CoNLL 2003 BIO tags of each decided task\'s text, `token -X- _ TAG`). `control` picks one control for coco, yolo and conll. ' +
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
