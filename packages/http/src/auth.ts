import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from '@fairlabel/db';
import { apiKeyMatches, parseApiKey } from './api-keys.js';
import { forbidden, unauthorized } from './errors.js';
import type { AuthContext } from './types.js';

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Authenticates every request that is not on a public route, before its body is parsed: a missing,
 * malformed, unknown or revoked key is a 401; a role the route does not allow is a 403 (checked
 * before validation, so a caller without the right role learns nothing about the body schema).
 */
export function installAuth(app: FastifyInstance): void {
  app.decorateRequest('auth', null);

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.auth === 'public' || !request.routeOptions.url) return;
    request.auth = await authenticate(app, request);
  });

  app.addHook('preValidation', async (request) => {
    const roles = request.routeOptions.config?.roles;
    if (!roles || request.routeOptions.config?.auth === 'public') return;
    if (!request.auth || !roles.includes(request.auth.role)) {
      throw forbidden(`this endpoint is for ${roles.join(', ')} keys; this key is a ${request.auth?.role ?? 'none'} key`);
    }
  });
}

async function authenticate(app: FastifyInstance, request: FastifyRequest): Promise<AuthContext> {
  const header = request.headers.authorization;
  if (!header) throw unauthorized();
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('the Authorization header must be `Bearer <api key>`');
  const key = match[1]!;
  const parsed = parseApiKey(key);
  if (!parsed) throw unauthorized('the API key is malformed');
  const row = await app.deps.db
    .selectFrom('api_keys as k')
    .innerJoin('organizations as o', 'o.id', 'k.organization_id')
    .select(['k.id', 'k.prefix', 'k.key_hash', 'k.role', 'k.organization_id', 'k.worker_id', 'k.revoked_at', 'k.last_used_at', 'o.kind'])
    .where('k.prefix', '=', parsed.prefix)
    .executeTakeFirst();
  // Unknown prefix and wrong secret answer the same, so a caller cannot probe for prefixes.
  if (!row || !apiKeyMatches(key, row.key_hash)) throw unauthorized('the API key is not valid');
  if (row.revoked_at) throw unauthorized('the API key has been revoked');
  const now = app.deps.clock.now();
  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
    // Best effort and coarse: a write per request would make every read a write.
    app.deps.db
      .updateTable('api_keys')
      .set({ last_used_at: sql<Date>`now()` })
      .where('id', '=', row.id)
      .execute()
      .catch((err) => request.log.warn({ err }, 'could not record key use'));
  }
  return {
    keyId: row.id,
    keyPrefix: row.prefix,
    role: row.role,
    organizationId: row.organization_id,
    organizationKind: row.kind,
    workerId: row.worker_id,
  };
}

/** The caller of an authenticated route (its hook has already refused anonymous requests). */
export function callerOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw unauthorized();
  return request.auth;
}
