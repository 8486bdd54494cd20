import { z } from 'zod';
import { apiKeySchema, createApiKeyBody, createWorkerApiKeyBody, errorResponses, idParamsSchema, issuedApiKeySchema } from '@fairlabel/contracts';
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { issueKeyAs, issueWorkerKey, listApiKeysAs, revokeApiKeyAs } from './api-keys.service.js';

const errors = errorResponses(409, 422);

/** Every API route that issues, lists or revokes keys; all of them go through api-keys.service. */
export const apiKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  app.post(
    '/organizations/:id/api-keys',
    {
      config: { roles: ['admin', 'client', 'vendor'] },
      schema: {
        operationId: 'createApiKey',
        tags: ['organizations'],
        summary: 'Issue an API key (the secret is in this response only)',
        description: 'Admins issue keys for any organization; clients and vendors for their own (vendors also for their workers).',
        params: idParamsSchema,
        body: createApiKeyBody,
        response: { 201: issuedApiKeySchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { role, name, worker_id } = request.body;
      return withIdempotency(request, reply, async () => ({
        statusCode: 201,
        body: await issueKeyAs(db, caller, { organizationId: request.params.id, role, name, workerId: worker_id ?? null }),
        secretFields: ['key'],
      }));
    },
  );

  app.get(
    '/organizations/:id/api-keys',
    {
      config: { roles: ['admin', 'client', 'vendor'] },
      schema: {
        operationId: 'listApiKeys',
        tags: ['organizations'],
        summary: "An organization's API keys (never their secrets)",
        params: idParamsSchema,
        response: { 200: z.object({ data: z.array(apiKeySchema) }), ...errors },
      },
    },
    async (request) => ({ data: await listApiKeysAs(db, callerOf(request), request.params.id) }),
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { roles: ['admin', 'client', 'vendor'] },
      schema: {
        operationId: 'revokeApiKey',
        tags: ['organizations'],
        summary: 'Revoke an API key; it stops working at once',
        params: idParamsSchema,
        response: { 200: apiKeySchema, ...errors },
      },
    },
    async (request) => revokeApiKeyAs({ db, announce: (prefix) => app.apiKeyRevoked(prefix) }, callerOf(request), request.params.id),
  );

  app.post(
    '/workers/:id/api-keys',
    {
      config: { roles: ['vendor', 'admin'] },
      schema: {
        operationId: 'createWorkerApiKey',
        tags: ['workers'],
        summary: 'Issue a worker key (the secret is in this response only)',
        description: "For one of your own workers (admins: any vendor's worker); another vendor's worker is a 404. Supports `Idempotency-Key`.",
        params: idParamsSchema,
        body: createWorkerApiKeyBody,
        response: { 201: issuedApiKeySchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return withIdempotency(request, reply, async () => ({ statusCode: 201, body: await issueWorkerKey(db, caller, request.params.id, request.body.name), secretFields: ['key'] }));
    },
  );
};
