import type { ApiKeyRole, Db, OrganizationKind } from '@fairlabel/db';
import { sql } from '@fairlabel/db';
import { generateApiKey, notFound, unprocessable, type AuthContext } from '@fairlabel/http';
import { findOrganization } from './organizations.service.js';

// The one module that writes `api_keys`: issuing, revoking and the coarse `last_used_at`. The API
// routes, the worker-key route, the operator CLI and the auth layer all come through here, so the
// rules of who may hold which key live in one place. (`packages/http` only knows the key format and
// reads keys to authenticate; test and benchmark seeders insert rows of their own.)

/** Which key roles an organization of each kind may hold. */
export const rolesForKind: Record<OrganizationKind, readonly ApiKeyRole[]> = {
  client: ['client'],
  vendor: ['vendor', 'worker'],
  platform: ['admin', 'ops', 'finance'],
};

/** What the API shows of a key: never its hash. */
const keyColumns = ['id', 'organization_id', 'worker_id', 'role', 'name', 'prefix', 'created_at', 'revoked_at', 'last_used_at'] as const;

export interface IssueKeyInput {
  organizationId: string;
  role: ApiKeyRole;
  name: string;
  workerId?: string | null;
}

/**
 * Issues a key for an organization. The secret is returned once and only its hash is stored. The
 * role must suit the organization's kind, and a worker key must name a worker of that vendor.
 */
export async function issueApiKey(db: Db, input: IssueKeyInput) {
  const org = await findOrganization(db, input.organizationId);
  if (!org) throw notFound('organization');
  if (!rolesForKind[org.kind].includes(input.role)) {
    throw unprocessable('role_not_allowed', `a ${org.kind} organization cannot hold ${input.role} keys (allowed: ${rolesForKind[org.kind].join(', ')})`, [
      { path: 'body.role', message: `allowed: ${rolesForKind[org.kind].join(', ')}` },
    ]);
  }
  const workerId = input.workerId ?? null;
  if ((input.role === 'worker') !== (workerId !== null)) {
    throw unprocessable('worker_id_mismatch', 'worker_id is required for, and only for, worker keys', [{ path: 'body.worker_id', message: 'required for role worker only' }]);
  }
  if (workerId) {
    // `workers` belongs to worker-assignment; the gateway reads it to check the vendor owns the worker.
    const worker = await db.selectFrom('workers').select('id').where('id', '=', workerId).where('vendor_id', '=', org.id).executeTakeFirst();
    if (!worker) throw unprocessable('unknown_worker', 'no such worker in this organization', [{ path: 'body.worker_id', message: 'unknown worker' }]);
  }
  const { key, prefix, hash } = generateApiKey();
  const row = await db
    .insertInto('api_keys')
    .values({ organization_id: org.id, role: input.role, name: input.name, worker_id: workerId, prefix, key_hash: hash })
    .returning(keyColumns)
    .executeTakeFirstOrThrow();
  return { ...row, key };
}

/** An organization the caller may manage keys of: its own, or any for a platform admin. */
function mayManage(caller: AuthContext, organizationId: string): boolean {
  return caller.role === 'admin' || caller.organizationId === organizationId;
}

/** `POST /organizations/:id/api-keys`: another organization than the caller's own is not found (admins: any). */
export async function issueKeyAs(db: Db, caller: AuthContext, input: IssueKeyInput) {
  if (!mayManage(caller, input.organizationId)) throw notFound('organization');
  return issueApiKey(db, input);
}

/**
 * `POST /workers/:id/api-keys`: a worker key for one of the calling vendor's own workers (platform
 * admins: any worker). Another vendor's worker is not found.
 */
export async function issueWorkerKey(db: Db, caller: AuthContext, workerId: string, name: string) {
  let q = db.selectFrom('workers').select(['id', 'vendor_id']).where('id', '=', workerId);
  if (caller.organizationKind !== 'platform') q = q.where('vendor_id', '=', caller.organizationId);
  const worker = await q.executeTakeFirst();
  if (!worker) throw notFound('worker');
  return issueApiKey(db, { organizationId: worker.vendor_id, role: 'worker', name, workerId: worker.id });
}

export async function listApiKeys(db: Db, organizationId: string) {
  return db.selectFrom('api_keys').select(keyColumns).where('organization_id', '=', organizationId).orderBy('created_at').orderBy('id').execute();
}

/** `GET /organizations/:id/api-keys`: the caller's own organization's keys (admins: any organization's). */
export async function listApiKeysAs(db: Db, caller: AuthContext, organizationId: string) {
  if (!mayManage(caller, organizationId) || !(await findOrganization(db, organizationId))) throw notFound('organization');
  return listApiKeys(db, organizationId);
}

export interface RevokeDeps {
  db: Db;
  /** Tells every gateway process to forget the key now (it would otherwise stay cached for seconds). */
  announce: (keyPrefix: string) => Promise<void>;
}

/**
 * Revokes a key of `organizationId` (null: any organization, for platform admins and the CLI) and
 * announces it, so it stops working at once everywhere. Revoking twice is a no-op that announces again.
 */
export async function revokeApiKey(deps: RevokeDeps, keyId: string, organizationId: string | null) {
  let q = deps.db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', keyId);
  if (organizationId) q = q.where('organization_id', '=', organizationId);
  const row = await q.returning(keyColumns).executeTakeFirst();
  if (!row) throw notFound('API key');
  await deps.announce(row.prefix);
  return row;
}

/** `DELETE /api-keys/:id`: the caller's own organization's key (admins: any). */
export async function revokeApiKeyAs(deps: RevokeDeps, caller: AuthContext, keyId: string) {
  return revokeApiKey(deps, keyId, caller.role === 'admin' ? null : caller.organizationId);
}

/** The auth layer calls this at most once a minute per key and process: when the key was last used. */
export async function recordKeyUse(db: Db, keyId: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: sql<Date>`now()` }).where('id', '=', keyId).execute();
}
