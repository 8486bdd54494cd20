import { describe, expect } from 'vitest';
import { expectError, type Actor } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { test } from './helpers.js';

const region = { country: 'IN', province: 'KA', city_tier: 4, area: 'rural' };
const createWorker = (app: AppInstance, vendor: Actor, body: Record<string, unknown> = {}) =>
  app.inject({ method: 'POST', url: '/v1/workers', headers: vendor.auth, payload: { display_name: 'Asha', region, ...body } });

describe('workers', () => {
  test('a vendor creates, reads, lists and updates its workers', async ({ app, vendor }) => {
    const created = await createWorker(app, vendor, { external_ref: 'A-1', timezone: 'Asia/Kolkata', accommodations: { lease_factor: 2 }, daily_active_limit_seconds: 14_400 });
    expect(created.statusCode, created.body).toBe(201);
    const w = created.json();
    expect(w).toMatchObject({ vendor_id: vendor.organizationId, region, timezone: 'Asia/Kolkata', status: 'active', accommodations: { lease_factor: 2 }, daily_active_limit_seconds: 14_400 });
    expectError(await createWorker(app, vendor, { external_ref: 'A-1' }), 409, 'external_ref_taken');

    const got = await app.inject({ method: 'GET', url: `/v1/workers/${w.id}`, headers: vendor.auth });
    expect(got.json()).toMatchObject({ id: w.id, skills: [] });

    for (let i = 0; i < 3; i++) await createWorker(app, vendor, { display_name: `W${i}` });
    const page1 = (await app.inject({ method: 'GET', url: '/v1/workers?limit=3', headers: vendor.auth })).json();
    const page2 = (await app.inject({ method: 'GET', url: `/v1/workers?limit=3&cursor=${page1.next_cursor}`, headers: vendor.auth })).json();
    expect(page1.data).toHaveLength(3);
    expect(page2.data).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();

    const patched = await app.inject({ method: 'PATCH', url: `/v1/workers/${w.id}`, headers: vendor.auth, payload: { status: 'suspended', region: { ...region, city_tier: 2, area: 'urban' } } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ status: 'suspended', region: { city_tier: 2, area: 'urban' } });
  });

  test('a vendor sees and manages only its own workers', async ({ app, seed, vendor: mine }) => {
    const theirs = await seed.vendor();
    const w = (await createWorker(app, theirs)).json();
    const own = (await createWorker(app, mine)).json();
    const requests = [
      { method: 'GET' as const, url: `/v1/workers/${w.id}` },
      { method: 'PATCH' as const, url: `/v1/workers/${w.id}`, payload: { status: 'suspended' } },
      { method: 'PUT' as const, url: `/v1/workers/${w.id}/skills/cls`, payload: { level: 1 } },
    ];
    for (const r of requests) expectError(await app.inject({ ...r, headers: mine.auth }), 404, 'not_found');
    const list = (await app.inject({ method: 'GET', url: '/v1/workers', headers: mine.auth })).json();
    expect(list.data.map((x: { id: string }) => x.id)).toEqual([own.id]);
    expectError(await app.inject({ method: 'GET', url: `/v1/workers?vendor_id=${theirs.organizationId}`, headers: mine.auth }), 422, 'vendor_filter_not_allowed');
    // The other vendor's worker is untouched.
    expect((await app.inject({ method: 'GET', url: `/v1/workers/${w.id}`, headers: theirs.auth })).json()).toMatchObject({ status: 'active', skills: [] });
  });

  test('vendors set skill levels 1–2; 3–5 are certifications by platform staff with a reason', async ({ app, env, vendor, ops }) => {
    const w = (await createWorker(app, vendor)).json();
    const put = (who: Actor, body: Record<string, unknown>) => app.inject({ method: 'PUT', url: `/v1/workers/${w.id}/skills/ner`, headers: who.auth, payload: body });

    expect((await put(vendor, { level: 2 })).json()).toMatchObject({ skill: 'ner', level: 2, source: 'vendor' });
    expectError(await put(vendor, { level: 3 }), 403, 'forbidden');
    expectError(await put(ops, { level: 4 }), 422, 'reason_required');
    expect((await put(ops, { level: 4, reason: 'passed the NER certification exam' })).json()).toMatchObject({ level: 4, source: 'ops' });
    expectError(await put(vendor, { level: 1 }), 409, 'level_certified');

    const events = await env.db.selectFrom('skill_level_events').selectAll().where('worker_id', '=', w.id).orderBy('id').execute();
    expect(events.map((e) => [e.from_level, e.to_level, e.source, e.reason])).toEqual([
      [null, 2, 'vendor', 'set by vendor'],
      [2, 4, 'ops', 'passed the NER certification exam'],
    ]);
    expect(events[1]!.actor_key_id).toBe(ops.keyId);
  });

  test('answers bad input with 4xx in the one error shape', async ({ app, vendor, worker: w }) => {
    const cases = [
      await createWorker(app, vendor, { region: { ...region, city_tier: 6 } }),
      await createWorker(app, vendor, { timezone: 'Mars/Olympus' }),
      await createWorker(app, vendor, { region: { ...region, country: 'india' } }),
      await app.inject({ method: 'PATCH', url: `/v1/workers/${w.workerId}`, headers: vendor.auth, payload: {} }),
      await app.inject({ method: 'PUT', url: `/v1/workers/${w.workerId}/skills/Bad Skill`, headers: vendor.auth, payload: { level: 1 } }),
      await app.inject({ method: 'PUT', url: `/v1/workers/${w.workerId}/skills/cls`, headers: vendor.auth, payload: { level: 9 } }),
      await app.inject({ method: 'GET', url: '/v1/workers/not-a-uuid', headers: vendor.auth }),
      await app.inject({ method: 'GET', url: '/v1/workers?cursor=garbage', headers: vendor.auth }),
      await app.inject({ method: 'POST', url: '/v1/workers', headers: w.auth, payload: { display_name: 'x', region } }),
    ];
    const expected: [number, string][] = [
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'invalid_cursor'],
      [403, 'forbidden'],
    ];
    cases.forEach((c, i) => expectError(c, ...expected[i]!));
  });
});

describe('vendor batch claim', () => {
  test('claims for named workers of its own, each checked like a worker claim', async ({ app, seed, vendor }) => {
    const job = await seed.activeJob(5, { overlap: 1 });
    const a = await seed.worker(vendor);
    const b = await seed.worker(vendor, { status: 'suspended' });
    const c = await seed.worker(vendor);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/vendor/assignments:claim',
      headers: vendor.auth,
      payload: { claims: [{ worker_id: a.workerId, count: 3 }, { worker_id: b.workerId }, { worker_id: c.workerId, count: 4 }] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const [ra, rb, rc] = res.json().data;
    const ids = (r: { assignments: { task_id: number; worker_id: string }[] }) => r.assignments.map((x) => [x.task_id, x.worker_id]);
    expect(ids(ra)).toEqual(job.tasks.slice(0, 3).map((t) => [t.id, a.workerId]));
    expect(ra.error).toBeNull();
    expect(rb).toMatchObject({ assignments: [], error: { code: 'worker_suspended' } });
    expect(ids(rc)).toEqual(job.tasks.slice(3).map((t) => [t.id, c.workerId]));
    expect(rc.error.code).toBe('no_eligible_task');
  });

  test("is 404 for another vendor's worker, and not for worker keys", async ({ app, seed, vendor }) => {
    const other = await seed.vendor();
    const foreign = await seed.worker(other);
    const own = await seed.worker(vendor);
    const url = '/v1/vendor/assignments:claim';
    expectError(await app.inject({ method: 'POST', url, headers: vendor.auth, payload: { claims: [{ worker_id: foreign.workerId }] } }), 404, 'not_found');
    // A worker key cannot claim in another worker's name.
    expectError(await app.inject({ method: 'POST', url, headers: own.auth, payload: { claims: [{ worker_id: foreign.workerId }] } }), 403, 'forbidden');
    expectError(await app.inject({ method: 'POST', url, headers: vendor.auth, payload: { claims: [{ worker_id: own.workerId, count: 501 }] } }), 400, 'validation_failed');
  });
});
