import { z } from 'zod';
import {
  apiKeySchema,
  createApiKeyBody,
  createOrganizationBody,
  errorResponses,
  idParamsSchema,
  issuedApiKeySchema,
  organizationSchema,
  pageOf,
  pageQuerySchema,
} from '@fairlabel/contracts';
import { callerOf, decodeCursor, notFound, pageResult, withIdempotency, type AuthContext, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createOrganization, findOrganization, issueApiKey, listApiKeys, revokeApiKey } from './organizations.service.js';

const errors = errorResponses(409, 422);

/** An organization the caller may manage: its own, or any for a platform admin. Others look absent (404). */
function mayManage(caller: AuthContext, organizationId: string): boolean {
  return caller.role === 'admin' || caller.organizationId === organizationId;
}

export const organizationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  app.post(
    '/organizations',
    {
      config: { roles: ['admin'] },
      schema: {
        operationId: 'createOrganization',
        tags: ['organizations'],
        summary: 'Create a client or vendor organization',
        body: createOrganizationBody,
        response: { 201: organizationSchema, ...errors },
      },
    },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createOrganization(db, request.body) })),
  );

  app.get(
    '/organizations',
    {
      config: { roles: ['admin', 'ops', 'finance'] },
      schema: {
        operationId: 'listOrganizations',
        tags: ['organizations'],
        summary: 'List organizations (platform staff)',
        querystring: pageQuerySchema.extend({ kind: z.enum(['client', 'vendor', 'platform']).optional() }),
        response: { 200: pageOf(organizationSchema), ...errors },
      },
    },
    async (request) => {
      const { cursor, limit, kind } = request.query;
      let q = db.selectFrom('organizations').selectAll().orderBy('created_at').orderBy('id').limit(limit + 1);
      if (kind) q = q.where('kind', '=', kind);
      if (cursor) {
        const [at, id] = decodeCursor(cursor, 2) as [string, string];
        q = q.where((eb) => eb.or([eb('created_at', '>', new Date(at)), eb.and([eb('created_at', '=', new Date(at)), eb('id', '>', id)])]));
      }
      return pageResult(await q.execute(), limit, (r) => [r.created_at, r.id]);
    },
  );

  app.get(
    '/organizations/:id',
    {
      schema: {
        operationId: 'getOrganization',
        tags: ['organizations'],
        summary: 'One organization: your own, or any for platform staff',
        params: idParamsSchema,
        response: { 200: organizationSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const staff = caller.organizationKind === 'platform';
      const org = staff || caller.organizationId === request.params.id ? await findOrganization(db, request.params.id) : undefined;
      if (!org) throw notFound('organization');
      return org;
    },
  );

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
      if (!mayManage(caller, request.params.id)) throw notFound('organization');
      return withIdempotency(request, reply, async () => ({
        statusCode: 201,
        body: await issueApiKey(db, { organizationId: request.params.id, role: request.body.role, name: request.body.name, workerId: request.body.worker_id ?? null }),
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
    async (request) => {
      const caller = callerOf(request);
      if (!mayManage(caller, request.params.id) || !(await findOrganization(db, request.params.id))) throw notFound('organization');
      return { data: await listApiKeys(db, request.params.id) };
    },
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
    async (request) => {
      const caller = callerOf(request);
      const revoked = await revokeApiKey(db, request.params.id, caller.role === 'admin' ? null : caller.organizationId);
      await app.apiKeyRevoked(revoked.prefix);
      return revoked;
    },
  );

  app.get(
    '/auth/whoami',
    {
      schema: {
        operationId: 'whoami',
        tags: ['organizations'],
        summary: 'The organization, role and worker of the calling key',
        response: {
          200: z.object({
            key_id: z.uuid(),
            role: z.string(),
            organization_id: z.uuid(),
            organization_kind: z.string(),
            worker_id: z.uuid().nullable(),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const c = callerOf(request);
      return { key_id: c.keyId, role: c.role, organization_id: c.organizationId, organization_kind: c.organizationKind, worker_id: c.workerId };
    },
  );
};
