import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '@fairlabel/db';
import type { AuthContext } from '@fairlabel/http';

// Sessions of the ops console. The browser holds only a random session id in an HttpOnly cookie; the
// session (which key signed in) lives in Redis under the id's hash, with a TTL, so neither the key nor
// a usable id is ever stored. Losing Redis signs everyone out, nothing more.

export const OPS_SESSION_COOKIE = 'fl_ops_session';
/** The cookie is sent only to the console's own paths. */
export const OPS_COOKIE_PATH = '/ops';

export interface OpsSession {
  caller: AuthContext;
  createdAt: string;
}

const sessionKey = (prefix: string, id: string) => `${prefix}:ops:session:${createHash('sha256').update(id).digest('hex')}`;

export async function createOpsSession(redis: Redis, prefix: string, caller: AuthContext, ttlSeconds: number): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  const session: OpsSession = { caller, createdAt: new Date().toISOString() };
  await redis.set(sessionKey(prefix, id), JSON.stringify(session), 'EX', ttlSeconds);
  return id;
}

/**
 * The session behind a cookie value, if it exists and its key is still valid: revoking the key that
 * signed in ends its sessions at their next request.
 */
export async function findOpsSession(deps: { redis: Redis; db: Db; prefix: string }, id: string | undefined): Promise<OpsSession | null> {
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
  const raw = await deps.redis.get(sessionKey(deps.prefix, id));
  if (!raw) return null;
  const session = JSON.parse(raw) as OpsSession;
  const key = await deps.db.selectFrom('api_keys').select('revoked_at').where('id', '=', session.caller.keyId).executeTakeFirst();
  if (!key || key.revoked_at) {
    await deps.redis.del(sessionKey(deps.prefix, id));
    return null;
  }
  return session;
}

export async function endOpsSession(redis: Redis, prefix: string, id: string | undefined): Promise<void> {
  if (id) await redis.del(sessionKey(prefix, id));
}

/** The value of one cookie of a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Set-Cookie header of a session (or of its removal, with `maxAge` 0): HttpOnly (no script reads
 * it), SameSite=Strict (no other site's page makes the browser send it), Secure when the console is
 * served over https.
 */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${OPS_SESSION_COOKIE}=${value}`, `Path=${OPS_COOKIE_PATH}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])].join('; ');
}
