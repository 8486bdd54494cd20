import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiKeyRole, OrganizationKind } from '@fairlabel/db';
import { apiKeyMatches, parseApiKey } from './api-keys.js';
import { ApiError, forbidden, unauthorized } from './errors.js';
import type { AuthContext } from './types.js';

const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * How long a process trusts a key row it has read. Revocation is announced over Redis pub/sub and
 * evicts at once in every gateway process; the TTL bounds the delay only if that message is lost.
 */
const KEY_CACHE_TTL_MS = 10_000;
const KEY_CACHE_MAX = 50_000;

interface KeyRow {
  id: string;
  prefix: string;
  key_hash: Buffer;
  role: ApiKeyRole;
  organization_id: string;
  worker_id: string | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  kind: OrganizationKind;
}

/**
 * Records that a key was used. `api_keys` belongs to the gateway's keys module, which passes its
 * recorder to the app builder; this layer only decides when a use is worth recording.
 */
export type RecordKeyUse = (keyId: string) => Promise<void>;

/** The pub/sub channel on which key revocations are announced to every gateway process. */
export function keyRevokedChannel(redisPrefix: string): string {
  return `${redisPrefix}:auth:key-revoked`;
}

/** Tells every gateway process to forget a key it may have cached (call after revoking it). */
export async function announceKeyRevoked(redis: Redis, redisPrefix: string, keyPrefix: string): Promise<void> {
  await redis.publish(keyRevokedChannel(redisPrefix), keyPrefix);
}

/**
 * Authenticates every request that is not on a public route, before its body is parsed: a missing,
 * malformed, unknown or revoked key is a 401; a role the route does not allow is a 403 (checked
 * before validation, so a caller without the right role learns nothing about the body schema).
 * Valid key rows are cached briefly per process, so the hot paths (claim, submit) do not pay a
 * database round trip per request; the secret is still compared on every request.
 */
export function installAuth(app: FastifyInstance, opts: { recordKeyUse?: RecordKeyUse | undefined } = {}): void {
  app.decorateRequest('auth', null);
  const cache = new Map<string, { row: KeyRow; expiresAt: number }>();
  let subscriber: Redis | null = null;

  // Revoking through this process evicts here synchronously; other processes hear it over pub/sub.
  app.decorate('apiKeyRevoked', async (keyPrefix: string) => {
    cache.delete(keyPrefix);
    await announceKeyRevoked(app.deps.redis, app.deps.prefix, keyPrefix);
  });

  app.addHook('onReady', async () => {
    subscriber = app.deps.redis.duplicate();
    subscriber.on('error', (err) => app.log.warn({ err }, 'key revocation subscriber: Redis error'));
    subscriber.on('message', (_channel, keyPrefix: string) => cache.delete(keyPrefix));
    // Waited for briefly only: the gateway must start, and answer /readyz with 503, while Redis is
    // down; the subscription then completes when Redis is back, and cached keys expire after the TTL.
    const subscribed = subscriber.subscribe(keyRevokedChannel(app.deps.prefix)).catch((err) => app.log.warn({ err }, 'could not subscribe to key revocations'));
    await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  });
  app.addHook('onClose', async () => {
    subscriber?.disconnect();
  });

  app.addHook('onRequest', async (request) => {
    const mode = request.routeOptions.config?.auth;
    if (mode === 'public' || mode === 'ops-session' || !request.routeOptions.url) return;
    try {
      request.auth = await authenticate(app, request, cache, opts.recordKeyUse);
    } catch (err) {
      // A missing or wrong key spends the caller's IP budget; past it, a 429 instead of the 401.
      if (err instanceof ApiError && err.statusCode === 401 && app.hasDecorator('spendIpBudget')) await app.spendIpBudget(request, 'requests without a valid API key');
      throw err;
    }
  });

  app.addHook('preValidation', async (request) => {
    const roles = request.routeOptions.config?.roles;
    if (!roles || request.routeOptions.config?.auth === 'public' || request.routeOptions.config?.auth === 'ops-session') return;
    if (!request.auth || !roles.includes(request.auth.role)) {
      throw forbidden(`this endpoint is for ${roles.join(', ')} keys; this key is a ${request.auth?.role ?? 'none'} key`);
    }
  });
}

/**
 * The caller a key stands for, checked as on every request (known prefix, matching secret, not
 * revoked), or null. For sign-ins that take a key once and then hold their own session (the ops console).
 */
export async function verifyApiKey(app: FastifyInstance, key: string): Promise<AuthContext | null> {
  const parsed = parseApiKey(key.trim());
  if (!parsed) return null;
  const row = await loadKey(app, parsed.prefix);
  if (!row || !apiKeyMatches(key.trim(), row.key_hash) || row.revoked_at) return null;
  return { keyId: row.id, keyPrefix: row.prefix, role: row.role, organizationId: row.organization_id, organizationKind: row.kind, workerId: row.worker_id };
}

async function loadKey(app: FastifyInstance, prefix: string): Promise<KeyRow | undefined> {
  return app.deps.db
    .selectFrom('api_keys as k')
    .innerJoin('organizations as o', 'o.id', 'k.organization_id')
    .select(['k.id', 'k.prefix', 'k.key_hash', 'k.role', 'k.organization_id', 'k.worker_id', 'k.revoked_at', 'k.last_used_at', 'o.kind'])
    .where('k.prefix', '=', prefix)
    .executeTakeFirst();
}

async function authenticate(
  app: FastifyInstance,
  request: FastifyRequest,
  cache: Map<string, { row: KeyRow; expiresAt: number }>,
  recordKeyUse: RecordKeyUse | undefined,
): Promise<AuthContext> {
  const header = request.headers.authorization;
  if (!header) throw unauthorized();
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('the Authorization header must be `Bearer <api key>`');
  const key = match[1]!;
  const parsed = parseApiKey(key);
  if (!parsed) throw unauthorized('the API key is malformed');

  const nowMs = Date.now();
  const cached = cache.get(parsed.prefix);
  const fromCache = cached && cached.expiresAt > nowMs ? cached.row : undefined;
  const row = fromCache ?? (await loadKey(app, parsed.prefix));
  // Unknown prefix and wrong secret answer the same, so a caller cannot probe for prefixes.
  if (!row || !apiKeyMatches(key, row.key_hash)) throw unauthorized('the API key is not valid');
  if (row.revoked_at) throw unauthorized('the API key has been revoked');
  // Only valid, unrevoked keys are cached: a wrong or unknown key always goes to the database.
  if (!fromCache) {
    if (cache.size >= KEY_CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(parsed.prefix, { row, expiresAt: nowMs + KEY_CACHE_TTL_MS });
  }

  const now = app.deps.clock.now();
  if (recordKeyUse && (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS)) {
    // Best effort and coarse: a write per request would make every read a write.
    row.last_used_at = now;
    recordKeyUse(row.id).catch((err) => request.log.warn({ err }, 'could not record key use'));
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
