import type { Db, OrganizationKind } from '@fairlabel/db';
import { decodeCursor, notFound, pageResult, type AuthContext } from '@fairlabel/http';

export async function createOrganization(db: Db, input: { name: string; kind: OrganizationKind }) {
  return db.insertInto('organizations').values(input).returningAll().executeTakeFirstOrThrow();
}

export async function findOrganization(db: Db, id: string) {
  return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One organization: the caller's own, or any for platform staff. Others look absent (404). */
export async function getOrganizationAs(db: Db, caller: AuthContext, id: string) {
  const staff = caller.organizationKind === 'platform';
  const org = staff || caller.organizationId === id ? await findOrganization(db, id) : undefined;
  if (!org) throw notFound('organization');
  return org;
}

export async function listOrganizations(db: Db, query: { cursor?: string | undefined; limit: number; kind?: OrganizationKind | undefined }) {
  const { cursor, limit, kind } = query;
  let q = db.selectFrom('organizations').selectAll().orderBy('created_at').orderBy('id').limit(limit + 1);
  if (kind) q = q.where('kind', '=', kind);
  if (cursor) {
    const [at, id] = decodeCursor(cursor, ['timestamp', 'uuid']);
    q = q.where((eb) => eb.or([eb('created_at', '>', new Date(at)), eb.and([eb('created_at', '=', new Date(at)), eb('id', '>', id)])]));
  }
  return pageResult(await q.execute(), limit, (r) => [r.created_at, r.id]);
}
