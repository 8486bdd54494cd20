import type { z } from 'zod';
import type { createWorkerBody, updateWorkerBody } from '@fairlabel/contracts';
import { sql, type Db, type WorkersTable } from '@fairlabel/db';
import { conflict, decodeCursor, forbidden, notFound, pageResult, unprocessable, type AuthContext } from '@fairlabel/http';
import type { Selectable } from 'kysely';

type WorkerRow = Selectable<WorkersTable>;

/** The API shape of a worker row: region fields grouped as in the contract. */
export function toWorker(w: WorkerRow) {
  return {
    id: w.id,
    vendor_id: w.vendor_id,
    external_ref: w.external_ref,
    display_name: w.display_name,
    region: { country: w.region_country, province: w.region_province, city_tier: w.city_tier, area: w.area },
    timezone: w.timezone,
    status: w.status,
    accommodations: w.accommodations,
    daily_active_limit_seconds: w.daily_active_limit_seconds,
    created_at: w.created_at,
    updated_at: w.updated_at,
  };
}

const isPlatform = (caller: AuthContext) => caller.organizationKind === 'platform';

/**
 * A worker the caller may see: a vendor's own, or any for platform staff. Another vendor's worker
 * is not found. The tenant condition is part of the query.
 */
export async function findWorker(db: Db, caller: AuthContext, workerId: string): Promise<WorkerRow> {
  let q = db.selectFrom('workers').selectAll().where('id', '=', workerId);
  if (!isPlatform(caller)) q = q.where('vendor_id', '=', caller.organizationId);
  const row = await q.executeTakeFirst();
  if (!row) throw notFound('worker');
  return row;
}

function uniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

export async function createWorker(db: Db, vendorId: string, body: z.output<typeof createWorkerBody>) {
  try {
    const row = await db
      .insertInto('workers')
      .values({
        vendor_id: vendorId,
        display_name: body.display_name,
        external_ref: body.external_ref ?? null,
        region_country: body.region.country,
        region_province: body.region.province,
        city_tier: body.region.city_tier,
        area: body.region.area,
        timezone: body.timezone,
        accommodations: JSON.stringify(body.accommodations),
        daily_active_limit_seconds: body.daily_active_limit_seconds,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toWorker(row);
  } catch (err) {
    if (uniqueViolation(err)) throw conflict('external_ref_taken', 'another of your workers has this external_ref', [{ path: 'body.external_ref', message: 'already used' }]);
    throw err;
  }
}

export async function listWorkers(db: Db, caller: AuthContext, q: { cursor?: string | undefined; limit: number; status?: 'active' | 'suspended' | undefined; vendor_id?: string | undefined }) {
  if (q.vendor_id && !isPlatform(caller)) {
    throw unprocessable('vendor_filter_not_allowed', 'vendor_id is for platform staff; vendors always see their own workers', [{ path: 'query.vendor_id', message: 'not allowed' }]);
  }
  const vendorId = isPlatform(caller) ? q.vendor_id : caller.organizationId;
  let query = db.selectFrom('workers').selectAll().orderBy('created_at').orderBy('id').limit(q.limit + 1);
  if (vendorId) query = query.where('vendor_id', '=', vendorId);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.cursor) {
    const [at, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']);
    query = query.where((eb) => eb.or([eb('created_at', '>', new Date(at)), eb.and([eb('created_at', '=', new Date(at)), eb('id', '>', id)])]));
  }
  const page = pageResult(await query.execute(), q.limit, (r) => [r.created_at, r.id]);
  return { data: page.data.map(toWorker), next_cursor: page.next_cursor };
}

export async function updateWorker(db: Db, caller: AuthContext, workerId: string, body: z.output<typeof updateWorkerBody>) {
  const current = await findWorker(db, caller, workerId);
  const set: Record<string, unknown> = { updated_at: sql`now()` };
  if (body.display_name !== undefined) set.display_name = body.display_name;
  if (body.external_ref !== undefined) set.external_ref = body.external_ref;
  if (body.timezone !== undefined) set.timezone = body.timezone;
  if (body.status !== undefined) set.status = body.status;
  if (body.daily_active_limit_seconds !== undefined) set.daily_active_limit_seconds = body.daily_active_limit_seconds;
  if (body.accommodations !== undefined) set.accommodations = JSON.stringify(body.accommodations);
  if (body.region !== undefined) {
    set.region_country = body.region.country;
    set.region_province = body.region.province;
    set.city_tier = body.region.city_tier;
    set.area = body.region.area;
  }
  try {
    const row = await db.updateTable('workers').set(set).where('id', '=', current.id).where('vendor_id', '=', current.vendor_id).returningAll().executeTakeFirstOrThrow();
    return toWorker(row);
  } catch (err) {
    if (uniqueViolation(err)) throw conflict('external_ref_taken', 'another of your workers has this external_ref', [{ path: 'body.external_ref', message: 'already used' }]);
    throw err;
  }
}

export async function skillsOf(db: Db, workerId: string) {
  return db.selectFrom('worker_skills').select(['skill', 'level', 'source', 'suspended_at', 'updated_at']).where('worker_id', '=', workerId).orderBy('skill').execute();
}

/** One worker the caller may see, with its skills. */
export async function getWorkerWithSkills(db: Db, caller: AuthContext, workerId: string) {
  const worker = await findWorker(db, caller, workerId);
  return { ...toWorker(worker), skills: await skillsOf(db, worker.id) };
}

/** Highest level a vendor may grant; above it is a certification (QA, or platform ops with a reason). */
export const VENDOR_MAX_LEVEL = 2;

/**
 * Sets a worker's skill level and records the change in skill_level_events, in one transaction.
 * Vendors manage entry levels only (1–2) and cannot lower a level someone certified above that;
 * platform ops/admin keys certify any level with a reason.
 */
export async function setSkill(db: Db, caller: AuthContext, workerId: string, skill: string, level: number, reason: string | undefined) {
  const worker = await findWorker(db, caller, workerId);
  const platform = isPlatform(caller);
  if (!platform && level > VENDOR_MAX_LEVEL) {
    throw forbidden(`vendors may set levels 1–${VENDOR_MAX_LEVEL}; level ${level} is earned through QA or certified by platform ops`);
  }
  if (platform && !reason) {
    throw unprocessable('reason_required', 'a certification by platform staff must say why', [{ path: 'body.reason', message: 'required' }]);
  }
  return db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('worker_skills').selectAll().where('worker_id', '=', worker.id).where('skill', '=', skill).forUpdate().executeTakeFirst();
    if (!platform && current && current.level > VENDOR_MAX_LEVEL) {
      throw conflict('level_certified', `this skill is at certified level ${current.level}; only QA or platform ops change it`);
    }
    const source = platform ? 'ops' : 'vendor';
    const row = await trx
      .insertInto('worker_skills')
      .values({ worker_id: worker.id, skill, level, source })
      .onConflict((oc) => oc.columns(['worker_id', 'skill']).doUpdateSet({ level, source, updated_at: sql`now()` }))
      .returning(['skill', 'level', 'source', 'suspended_at', 'updated_at'])
      .executeTakeFirstOrThrow();
    if (current?.level !== level) {
      await trx
        .insertInto('skill_level_events')
        .values({
          worker_id: worker.id,
          skill,
          from_level: current?.level ?? null,
          to_level: level,
          source,
          reason: reason ?? (platform ? '' : 'set by vendor'),
          actor_key_id: caller.keyId,
        })
        .execute();
    }
    return row;
  });
}
