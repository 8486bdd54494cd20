import { z } from 'zod';
import { createOrganizationBody, errorResponses, idParamsSchema, organizationSchema, pageOf, pageQuerySchema } from '@fairlabel/contracts';
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createOrganization, getOrganizationAs, listOrganizations } from './organizations.service.js';

const errors = errorResponses(409, 422);

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
    async (request) => listOrganizations(db, request.query),
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
    async (request) => getOrganizationAs(db, callerOf(request), request.params.id),
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
