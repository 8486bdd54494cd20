import type { ApiKeyRole, Db, OrganizationKind } from '@fairlabel/db';
import { sql } from '@fairlabel/db';
import { generateApiKey, notFound, unprocessable } from '@fairlabel/http';

/** Which key roles an organization of each kind may hold. */
export const rolesForKind: Record<OrganizationKind, readonly ApiKeyRole[]> = {
  client: ['client'],
  vendor: ['vendor', 'worker'],
  platform: ['admin', 'ops', 'finance'],
};

const keyColumns = ['id', 'organization_id', 'worker_id', 'role', 'name', 'prefix', 'created_at', 'revoked_at', 'last_used_at'] as const;

export async function createOrganization(db: Db, input: { name: string; kind: OrganizationKind }) {
  return db.insertInto('organizations').values(input).returningAll().executeTakeFirstOrThrow();
}

export async function findOrganization(db: Db, id: string) {
  return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Issues a key for an organization. The secret is returned once and only its hash is stored. A worker
 * key must name a worker of that (vendor) organization.
 */
export async function issueApiKey(db: Db, input: { organizationId: string; role: ApiKeyRole; name: string; workerId?: string | null }) {
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

export async function listApiKeys(db: Db, organizationId: string) {
  return db.selectFrom('api_keys').select(keyColumns).where('organization_id', '=', organizationId).orderBy('created_at').orderBy('id').execute();
}

/** Revokes a key of `organizationId` (null: any organization, for platform admins). Revoking twice is a no-op. */
export async function revokeApiKey(db: Db, keyId: string, organizationId: string | null) {
  let q = db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', keyId);
  if (organizationId) q = q.where('organization_id', '=', organizationId);
  const row = await q.returning(keyColumns).executeTakeFirst();
  if (!row) throw notFound('API key');
  return row;
}
