import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { ErrorBody, ErrorDetail } from '@fairlabel/contracts';
import { isDatabaseUnavailable } from '@fairlabel/db';
import { ApiError } from './errors.js';

/**
 * What a client is told to wait during a database outage. A restart or failover takes seconds; a
 * client that retries sooner only adds load to a recovering server.
 */
export const DATABASE_RETRY_AFTER_S = 5;

function send(reply: FastifyReply, status: number, code: string, message: string, details: ErrorDetail[] = []) {
  const body: ErrorBody = { error: { code, message, details } };
  return reply.status(status).type('application/json; charset=utf-8').send(body);
}

/** Fastify's own client-error codes and what we answer for them. */
const fastifyClientErrors: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', message: 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', message: 'the request body is empty but Content-Type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: 'the request body is larger than this endpoint accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'invalid_content_type' },
  FST_ERR_VALIDATION: { status: 400, code: 'validation_failed' },
};

/**
 * The one error shape for every failure: thrown ApiErrors, schema validation, fastify's body parser,
 * rate limits, unknown routes, database outages (503 `database_unavailable` with Retry-After). 5xx
 * answers never carry the internal message (it is logged instead).
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      if (err.statusCode >= 500) request.log.error({ err }, 'request failed');
      return send(reply, err.statusCode, err.code, err.message, err.details);
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const details = err.validation.map((v) => ({
        path: `${where}${v.instancePath.replace(/\//g, '.')}`.replace(/\.$/, ''),
        message: v.message ?? 'invalid',
        ...(v.keyword === 'unrecognized_keys' ? { keys: (v.params as { keys?: string[] }).keys } : {}),
      }));
      return send(reply, 400, 'validation_failed', `invalid ${where}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
    }
    // Our database is down or restarting: the request was fine and will succeed later. Checked before
    // anything else because an outage can surface anywhere (auth, idempotency, the handler).
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err }, 'database unavailable; answering 503');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER_S));
      return send(reply, 503, 'database_unavailable', 'the database is unavailable; retry after the time in Retry-After');
    }
    if (isResponseSerializationError(err as never)) {
      request.log.error({ err, cause: (err as { cause?: unknown }).cause }, 'response did not match its schema');
      return send(reply, 500, 'internal_error', 'internal error');
    }
    const known = err.code ? fastifyClientErrors[err.code] : undefined;
    if (known) return send(reply, known.status, known.code, known.message ?? err.message);
    if (err.statusCode === 429) return send(reply, 429, 'rate_limited', err.message || 'too many requests');
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return send(reply, err.statusCode, (err.code ?? 'bad_request').toLowerCase(), err.message);
    }
    // Postgres rejected input that slipped past validation (bad enum, overflow, broken FK): a 4xx, not a 500.
    const pgCode = (err as { code?: string }).code;
    // 22021/22P05: text Postgres cannot store (a NUL); the JSON guard refuses those first, this is the backstop.
    if (pgCode === '22P02' || pgCode === '22003' || pgCode === '23514' || pgCode === '22001' || pgCode === '22021' || pgCode === '22P05') {
      request.log.warn({ err }, 'database rejected input');
      return send(reply, 400, 'invalid_value', 'a value is out of range or of the wrong form');
    }
    request.log.error({ err }, 'unhandled error');
    return send(reply, 500, 'internal_error', 'internal error');
  });

  // Scanning for routes spends the caller's IP budget like a bad key does (fastify/demo's rate-limited 404s).
  app.setNotFoundHandler(async (request, reply) => {
    if (app.hasDecorator('spendIpBudget')) await app.spendIpBudget(request, 'requests for unknown routes');
    return send(reply, 404, 'route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });
}
