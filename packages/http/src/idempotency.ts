import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from '@fairlabel/db';
import { callerOf } from './auth.js';
import { ApiError, badRequest, conflict, unprocessable } from './errors.js';
import { badTextReason } from './json-guard.js';

export interface IdempotentResult {
  statusCode: number;
  body: unknown;
  /**
   * Top-level fields of `body` that hold a secret shown once (an API key, a webhook secret). They are
   * never stored: the response is kept without them, and a replay answers 409 `secret_already_issued`
   * naming what the first request created, instead of handing the secret out a second time.
   */
  secretFields?: readonly string[];
}

/**
 * Runs a POST that creates or pays something at most once per `Idempotency-Key` (per organization).
 * The first request's status and body are stored and replayed to every retry with the same key;
 * the same key with a different request is a 422; a retry while the first is still running is a 409.
 * When `run` throws, the key is released so the client may retry. Without the header `run` just runs.
 *
 * `requestHash` defaults to a hash of method, URL and parsed body; streaming endpoints whose body is
 * not in memory pass their own (e.g. of the bytes they consumed, or of the URL only).
 */
export async function withIdempotency(
  request: FastifyRequest,
  reply: FastifyReply,
  run: () => Promise<IdempotentResult>,
  opts: { requestHash?: string } = {},
): Promise<FastifyReply> {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    const result = await run();
    return reply.status(result.statusCode).send(result.body);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > 255 || badTextReason(key)) {
    throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters', [{ path: 'headers.idempotency-key', message: 'invalid' }]);
  }
  const caller = callerOf(request);
  const { db } = request.server.deps;
  const path = request.url;
  const requestHash =
    opts.requestHash ?? createHash('sha256').update(`${request.method} ${path}\n${JSON.stringify(request.body ?? null)}`).digest('hex');

  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ organization_id: caller.organizationId, key, method: request.method, path, request_hash: requestHash })
    .onConflict((oc) => oc.columns(['organization_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();

  if (!inserted) {
    const existing = await db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('organization_id', '=', caller.organizationId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!existing) throw conflict('idempotency_in_progress', 'a request with this Idempotency-Key is being processed; retry shortly');
    if (existing.request_hash !== requestHash || existing.method !== request.method || existing.path !== path) {
      throw unprocessable('idempotency_key_reused', 'this Idempotency-Key was used for a different request', [
        { path: 'headers.idempotency-key', message: `first used for ${existing.method} ${existing.path}` },
      ]);
    }
    if (existing.secret_withheld) {
      const created = (existing.response_body as { id?: unknown } | null)?.id;
      throw conflict(
        'secret_already_issued',
        `the first request with this Idempotency-Key issued a secret${created ? ` (${String(created)})` : ''}, which is shown once and not kept; it cannot be replayed. Use the secret from the first response, or revoke it and issue another`,
        [{ path: 'headers.idempotency-key', message: 'issued a secret', ...(created ? { id: String(created) } : {}) }],
      );
    }
    if (existing.status_code === null) {
      throw new ApiError(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is being processed; retry shortly', [], { 'retry-after': '1' });
    }
    reply.header('idempotent-replayed', 'true');
    // The stored body is already JSON (dates are strings), so it bypasses the route's response
    // serializer, which expects the handler's objects.
    return reply
      .status(existing.status_code)
      .type('application/json; charset=utf-8')
      .serializer((payload: unknown) => JSON.stringify(payload))
      .send(existing.response_body);
  }

  let result: IdempotentResult;
  try {
    result = await run();
  } catch (err) {
    await db.deleteFrom('idempotency_keys').where('organization_id', '=', caller.organizationId).where('key', '=', key).execute();
    throw err;
  }
  const secrets = result.secretFields ?? [];
  const stored =
    secrets.length && result.body !== null && typeof result.body === 'object'
      ? Object.fromEntries(Object.entries(result.body).filter(([k]) => !secrets.includes(k)))
      : result.body;
  await db
    .updateTable('idempotency_keys')
    .set({ status_code: result.statusCode, response_body: JSON.stringify(stored ?? null), secret_withheld: secrets.length > 0, completed_at: sql<Date>`now()` })
    .where('organization_id', '=', caller.organizationId)
    .where('key', '=', key)
    .execute();
  return reply.status(result.statusCode).send(result.body);
}
