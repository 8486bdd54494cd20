import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { errorResponses, idParamsSchema, importQuery, importResultSchema } from '@fairlabel/contracts';
import { ApiError, callerOf, notFound, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { assertJobAcceptsTasks, importTasks, type ImportFormat } from './import.service.js';
import { findJob } from './jobs.service.js';

const errors = errorResponses(409, 415, 422);

const contentFormats: Record<string, Exclude<ImportFormat, 'labelstudio'>> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
  'text/csv': 'csv',
};

function contentFormatOf(contentType: string | undefined): Exclude<ImportFormat, 'labelstudio'> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const format = contentFormats[type];
  if (!format) throw new ApiError(415, 'unsupported_media_type', `send tasks as ${Object.keys(contentFormats).join(', ')}`);
  return format;
}

export const importRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, pool } = app.deps;

  // Imports can be any size: the body reaches the handler as the raw stream (no buffering, no body
  // limit), and is parsed item by item. Content-type parsers are scoped to this plugin, so the rest
  // of the API keeps fastify's buffered JSON parser and its body limit.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(Object.keys(contentFormats), (_request, payload, done) => done(null, payload));

  app.post(
    '/jobs/:id/tasks',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'importTasks',
        tags: ['jobs'],
        summary: 'Import tasks (JSON array or object, NDJSON, CSV, or Label Studio tasks), streamed',
        description:
          'Content-Type `application/json` (an array of items, or one item as an object), `application/x-ndjson` (one item per line) or `text/csv` ' +
          '(a header line; columns `external_id`, `priority`, `gold`, `prediction`, `prediction_confidence`, `prediction_model` have their meaning, every other ' +
          'column becomes a field of `data`; `gold` and `prediction` cells hold JSON). Items are fairlabel items `{external_id?, data, priority?, prediction? | ' +
          'predictions?, gold?}` with answers keyed by control name, or Label Studio tasks — recognised by shape, or with `?format=labelstudio` (read as JSON or ' +
          'NDJSON per Content-Type): `{id?, data, predictions?, annotations? | completions?}` or flat tasks (no `data`). Each prediction is kept with its ' +
          'model_version and score; a ground-truth annotation becomes the gold answer, other annotations prior annotations; `parts` counts what was kept, ' +
          'converted and refused, `ignored_fields` the Label Studio fields not stored. ' +
          'Any size: the body is streamed. Items whose `external_id` the job already has are counted as duplicates, not created. ' +
          '`on_error=reject` (default) imports nothing when any item (or any prediction or annotation) is bad: 422 `import_rejected` listing the first 100 with their line numbers; ' +
          '`on_error=skip` imports the valid items (without what they refused) and lists the bad. A body that is not what its Content-Type says is a 400 ' +
          '`malformed_body` naming the line. A completed or cancelled job is a 409 `job_closed`. ' +
          'With `Idempotency-Key`, a retry of the same request (same URL, Content-Type and Content-Length) replays the first response.',
        params: idParamsSchema,
        querystring: importQuery,
        response: { 200: importResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      // Refuse before reading what may be gigabytes of body.
      const job = await findJob(db, caller.organizationId, request.params.id);
      if (!job) throw notFound('job');
      assertJobAcceptsTasks(job.status);
      const contentFormat = contentFormatOf(request.headers['content-type']);
      // The body is streamed, so it cannot be hashed before the first run; the request is identified
      // by what is known up front.
      const requestHash = createHash('sha256')
        .update(`${request.method} ${request.url}\n${request.headers['content-type'] ?? ''}\n${request.headers['content-length'] ?? 'chunked'}`)
        .digest('hex');
      return withIdempotency(
        request,
        reply,
        async () => ({
          statusCode: 200,
          body: await importTasks({
            pool,
            clientId: caller.organizationId,
            jobId: job.id,
            body: request.body as Readable,
            format: request.query.format,
            contentFormat,
            onError: request.query.on_error,
          }),
        }),
        { requestHash },
      );
    },
  );
};
