import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, newPlatformKey, newVendor, newWorker, type Actor, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { workerAssignmentRoutes } from '../src/index.js';
import { activeJob, pauseAllJobs } from './helpers.js';

let env: TestEnv;
let app: AppInstance;
beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [workerAssignmentRoutes]);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const region = { country: 'IN', province: 'KA', city_tier: 4, area: 'rural' };
const createWorker = (vendor: Actor, body: Record<string, unknown> = {}) =>
  app.inject({ method: 'POST', url: '/v1/workers', headers: vendor.auth, payload: { display_name: 'Asha', region, ...body } });

describe('workers', () => {
  it('a vendor creates, reads, lists and updates its workers', async () => {
    const vendor = await newVendor(env.db);
    const created = await createWorker(vendor, { external_ref: 'A-1', timezone: 'Asia/Kolkata', accommodations: { lease_factor: 2 }, daily_active_limit_seconds: 14_400 });
    expect(created.statusCode, created.body).toBe(201);
    const w = created.json();
    expect(w).toMatchObject({ vendor_id: vendor.organizationId, region, timezone: 'Asia/Kolkata', status: 'active', accommodations: { lease_factor: 2 }, daily_active_limit_seconds: 14_400 });
    expect((await createWorker(vendor, { external_ref: 'A-1' })).json().error.code).toBe('external_ref_taken');

    const got = await app.inject({ method: 'GET', url: `/v1/workers/${w.id}`, headers: vendor.auth });
    expect(got.json()).toMatchObject({ id: w.id, skills: [] });

    for (let i = 0; i < 3; i++) await createWorker(vendor, { display_name: `W${i}` });
    const page1 = (await app.inject({ method: 'GET', url: '/v1/workers?limit=3', headers: vendor.auth })).json();
    const page2 = (await app.inject({ method: 'GET', url: `/v1/workers?limit=3&cursor=${page1.next_cursor}`, headers: vendor.auth })).json();
    expect(page1.data).toHaveLength(3);
    expect(page2.data).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();

    const patched = await app.inject({ method: 'PATCH', url: `/v1/workers/${w.id}`, headers: vendor.auth, payload: { status: 'suspended', region: { ...region, city_tier: 2, area: 'urban' } } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ status: 'suspended', region: { city_tier: 2, area: 'urban' } });
  });

  it('a vendor sees and manages only its own workers', async () => {
    const mine = await newVendor(env.db);
    const theirs = await newVendor(env.db);
    const w = (await createWorker(theirs)).json();
    await createWorker(mine);
    const requests = [
      { method: 'GET' as const, url: `/v1/workers/${w.id}` },
      { method: 'PATCH' as const, url: `/v1/workers/${w.id}`, payload: { status: 'suspended' } },
      { method: 'PUT' as const, url: `/v1/workers/${w.id}/skills/cls`, payload: { level: 1 } },
    ];
    for (const r of requests) expect((await app.inject({ ...r, headers: mine.auth })).statusCode).toBe(404);
    const list = (await app.inject({ method: 'GET', url: '/v1/workers', headers: mine.auth })).json();
    expect(list.data.every((x: { vendor_id: string }) => x.vendor_id === mine.organizationId)).toBe(true);
    expect((await app.inject({ method: 'GET', url: `/v1/workers?vendor_id=${theirs.organizationId}`, headers: mine.auth })).statusCode).toBe(422);
  });

  it('vendors set skill levels 1–2; 3–5 are certifications by platform staff with a reason', async () => {
    const vendor = await newVendor(env.db);
    const ops = await newPlatformKey(env.db, 'ops');
    const w = (await createWorker(vendor)).json();
    const put = (who: Actor, body: Record<string, unknown>) => app.inject({ method: 'PUT', url: `/v1/workers/${w.id}/skills/ner`, headers: who.auth, payload: body });

    expect((await put(vendor, { level: 2 })).json()).toMatchObject({ skill: 'ner', level: 2, source: 'vendor' });
    expect((await put(vendor, { level: 3 })).statusCode).toBe(403);
    expect((await put(ops, { level: 4 })).json().error.code).toBe('reason_required');
    expect((await put(ops, { level: 4, reason: 'passed the NER certification exam' })).json()).toMatchObject({ level: 4, source: 'ops' });
    const demote = await put(vendor, { level: 1 });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe('level_certified');

    const events = await env.db.selectFrom('skill_level_events').selectAll().where('worker_id', '=', w.id).orderBy('id').execute();
    expect(events.map((e) => [e.from_level, e.to_level, e.source, e.reason])).toEqual([
      [null, 2, 'vendor', 'set by vendor'],
      [2, 4, 'ops', 'passed the NER certification exam'],
    ]);
    expect(events[1]!.actor_key_id).toBe(ops.keyId);
  });

  it('answers bad input with 4xx in the one error shape', async () => {
    const vendor = await newVendor(env.db);
    const w = await newWorker(env.db, vendor.organizationId);
    const cases = [
      await createWorker(vendor, { region: { ...region, city_tier: 6 } }),
      await createWorker(vendor, { timezone: 'Mars/Olympus' }),
      await createWorker(vendor, { region: { ...region, country: 'india' } }),
      await app.inject({ method: 'PATCH', url: `/v1/workers/${w.workerId}`, headers: vendor.auth, payload: {} }),
      await app.inject({ method: 'PUT', url: `/v1/workers/${w.workerId}/skills/Bad Skill`, headers: vendor.auth, payload: { level: 1 } }),
      await app.inject({ method: 'PUT', url: `/v1/workers/${w.workerId}/skills/cls`, headers: vendor.auth, payload: { level: 9 } }),
      await app.inject({ method: 'GET', url: '/v1/workers/not-a-uuid', headers: vendor.auth }),
      await app.inject({ method: 'GET', url: '/v1/workers?cursor=garbage', headers: vendor.auth }),
      await app.inject({ method: 'POST', url: '/v1/workers', headers: w.auth, payload: { display_name: 'x', region } }),
    ];
    expect(cases.map((c) => c.statusCode)).toEqual([400, 400, 400, 400, 400, 400, 400, 400, 403]);
    for (const c of cases) expect(c.json().error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  });
});

describe('vendor batch claim', () => {
  it('claims for named workers of its own, each checked like a worker claim', async () => {
    await pauseAllJobs(env);
    await activeJob(env, 5, { overlap: 1 });
    const vendor = await newVendor(env.db);
    const a = await newWorker(env.db, vendor.organizationId);
    const b = await newWorker(env.db, vendor.organizationId, { status: 'suspended' });
    const c = await newWorker(env.db, vendor.organizationId);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/vendor/assignments:claim',
      headers: vendor.auth,
      payload: { claims: [{ worker_id: a.workerId, count: 3 }, { worker_id: b.workerId }, { worker_id: c.workerId, count: 4 }] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const [ra, rb, rc] = res.json().data;
    expect(ra.assignments).toHaveLength(3);
    expect(ra.error).toBeNull();
    expect(rb).toMatchObject({ assignments: [], error: { code: 'worker_suspended' } });
    expect(rc.assignments).toHaveLength(2);
    expect(rc.error.code).toBe('no_eligible_task');
    const tasks = [...ra.assignments, ...rc.assignments].map((x: { task_id: number }) => x.task_id);
    expect(new Set(tasks).size).toBe(5);
  });

  it("is 404 for another vendor's worker, and not for worker keys", async () => {
    const vendor = await newVendor(env.db);
    const other = await newVendor(env.db);
    const foreign = await newWorker(env.db, other.organizationId);
    const own = await newWorker(env.db, vendor.organizationId);
    const url = '/v1/vendor/assignments:claim';
    const res = await app.inject({ method: 'POST', url, headers: vendor.auth, payload: { claims: [{ worker_id: foreign.workerId }] } });
    expect(res.statusCode).toBe(404);
    // A worker key cannot claim in another worker's name.
    const asWorker = await app.inject({ method: 'POST', url, headers: own.auth, payload: { claims: [{ worker_id: foreign.workerId }] } });
    expect(asWorker.statusCode).toBe(403);
    const tooMany = await app.inject({ method: 'POST', url, headers: vendor.auth, payload: { claims: [{ worker_id: own.workerId, count: 501 }] } });
    expect(tooMany.statusCode).toBe(400);
  });
});
