import { z } from 'zod';

export const organizationKindSchema = z.enum(['client', 'vendor', 'platform']);
export const apiKeyRoleSchema = z.enum(['client', 'vendor', 'worker', 'ops', 'finance', 'admin']);
export type ApiKeyRole = z.infer<typeof apiKeyRoleSchema>;

export const organizationSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    kind: organizationKindSchema,
    created_at: z.date(),
  })
  .meta({ id: 'Organization' });

export const createOrganizationBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(['client', 'vendor']).describe('The platform organization is created once, by `pnpm fairlabel bootstrap`.'),
});

export const apiKeySchema = z
  .object({
    id: z.uuid(),
    organization_id: z.uuid(),
    worker_id: z.uuid().nullable(),
    role: apiKeyRoleSchema,
    name: z.string(),
    prefix: z.string().describe('Public part of the key; shown in listings so keys can be told apart.'),
    created_at: z.date(),
    revoked_at: z.date().nullable(),
    last_used_at: z.date().nullable(),
  })
  .meta({ id: 'ApiKey' });

export const issuedApiKeySchema = apiKeySchema
  .extend({ key: z.string().describe('The secret key. Shown once; only its hash is stored.') })
  .meta({ id: 'IssuedApiKey' });

export const createApiKeyBody = z.strictObject({
  role: apiKeyRoleSchema,
  name: z.string().trim().max(200).default(''),
  worker_id: z.uuid().optional().describe('Required for, and only for, role `worker`.'),
});

/** A worker key issued for a worker by its vendor (`POST /workers/:id/api-keys`): the worker comes from the path. */
export const createWorkerApiKeyBody = z.strictObject({ name: z.string().trim().max(200).default('') }).default({ name: '' });
