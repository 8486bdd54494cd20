import { sql, type Db } from '@fairlabel/db';
import { conflict, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';

// Operator configuration of pay floors: the hourly floors per region (each naming its public source),
// exchange rates to compare them with pay in other currencies, and who tops workers up (per client,
// or the platform default).

const floorColumns = [
  'id',
  'country',
  'province',
  'city_tier',
  'currency',
  'hourly_minor',
  sql<string>`to_char(effective_from, 'YYYY-MM-DD')`.as('effective_from'),
  'basis',
  'source_url',
  'source_title',
  sql<string | null>`to_char(source_date, 'YYYY-MM-DD')`.as('source_date'),
] as const;

export async function listPayFloors(db: Db) {
  return db.selectFrom('pay_floors').select(floorColumns).orderBy('country').orderBy('province').orderBy('city_tier').orderBy('effective_from').execute();
}

export async function createPayFloor(
  db: Db,
  caller: AuthContext,
  body: { country: string; province: string | null; city_tier: number | null; currency: string; hourly_minor: number; effective_from: string; basis: string; source_url: string; source_title: string; source_date: string | null },
) {
  const row = await db.transaction().execute(async (trx) => {
    const inserted = await trx.insertInto('pay_floors').values({ ...body, created_by_key_id: caller.keyId }).onConflict((oc) => oc.doNothing()).returning('id').executeTakeFirst();
    if (!inserted) throw conflict('floor_exists', 'a floor for this region and effective date exists; add one with another effective_from');
    await writeAudit(trx, caller, { action: 'floors.created', resourceType: 'pay_floor', resourceId: String(inserted.id), details: body });
    return inserted;
  });
  return db.selectFrom('pay_floors').select(floorColumns).where('id', '=', row.id).executeTakeFirstOrThrow();
}

export async function listFloorPolicies(db: Db) {
  return db.selectFrom('floor_policies').select(['client_id', 'mode', 'funded_by', 'updated_at']).orderBy('client_id', 'asc').execute();
}

export async function setFloorPolicy(db: Db, caller: AuthContext, body: { client_id: string | null; mode: 'off' | 'report' | 'top_up'; funded_by: 'client' | 'platform' }) {
  if (body.client_id) {
    const client = await db.selectFrom('organizations').select('id').where('id', '=', body.client_id).where('kind', '=', 'client').executeTakeFirst();
    if (!client) throw unprocessable('unknown_client', `no client ${body.client_id}`, [{ path: 'body.client_id', message: 'not a client' }]);
  } else if (body.funded_by === 'client') {
    throw unprocessable('invalid_policy', 'the platform default cannot charge "the client": name a client, or fund it from the platform', [{ path: 'body.funded_by', message: 'platform only' }]);
  }
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('floor_policies').where((eb) => (body.client_id ? eb('client_id', '=', body.client_id) : eb('client_id', 'is', null))).execute();
    const row = await trx
      .insertInto('floor_policies')
      .values({ client_id: body.client_id, mode: body.mode, funded_by: body.funded_by, updated_by_key_id: caller.keyId })
      .returning(['client_id', 'mode', 'funded_by', 'updated_at'])
      .executeTakeFirstOrThrow();
    await writeAudit(trx, caller, { action: 'floors.policy', resourceType: 'floor_policy', resourceId: body.client_id ?? 'platform', details: body });
    return row;
  });
}

export async function listFxRates(db: Db) {
  return db.selectFrom('fx_rates').select(['base', 'quote', 'effective_from', sql<string>`rate::text`.as('rate'), 'source']).orderBy('base').orderBy('quote').orderBy('effective_from').execute();
}

export async function createFxRate(db: Db, caller: AuthContext, body: { base: string; quote: string; effective_from: string; rate: string; source: string }) {
  if (!/[1-9]/.test(body.rate)) throw unprocessable('invalid_rate', 'the rate must be positive', [{ path: 'body.rate', message: 'zero' }]);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('fx_rates')
      .values({ base: body.base, quote: body.quote, effective_from: new Date(body.effective_from), rate: body.rate, source: body.source, created_by_key_id: caller.keyId })
      .onConflict((oc) => oc.doNothing())
      .returning(['base', 'quote', 'effective_from', sql<string>`rate::text`.as('rate'), 'source'])
      .executeTakeFirst();
    if (!row) throw conflict('rate_exists', 'a rate for this pair and effective time exists');
    await writeAudit(trx, caller, { action: 'floors.fx_rate', resourceType: 'fx_rate', resourceId: `${body.base}/${body.quote}`, details: body });
    return row;
  });
}
