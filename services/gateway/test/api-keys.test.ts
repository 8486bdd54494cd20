import { describe, expect } from 'vitest';
import { expectError, integrationTest, type Actor } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

// The API keys module (services/gateway/src/api-keys.service.ts) is the one writer of api_keys: these
// tests go through every way a key is issued, used and revoked over HTTP, including the worker-key
// route that moved here from worker-assignment.

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const test = integrationTest({ app: buildGateway })
  .extend('issueWorkerKey', async ({ app }) => (workerId: string, who: Actor, payload: unknown = { name: 'phone' }, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/workers/${workerId}/api-keys`, headers: { ...who.auth, ...headers }, payload: payload as Record<string, unknown> }),
  )
  .extend('keyRow', async ({ env }) => (id: string) =>
    env.db.selectFrom('api_keys').select(['organization_id', 'worker_id', 'role', 'name', 'revoked_at', 'last_used_at']).where('id', '=', id).executeTakeFirstOrThrow(),
  );

describe('POST /v1/workers/:id/api-keys (served by the gateway)', () => {
  test("issues a vendor's worker a key that authenticates, and claims, as that worker", async ({ app, seed, issueWorkerKey, keyRow }) => {
    const vendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const issued = await issueWorkerKey(worker.workerId, vendor);
    expect(issued.statusCode, issued.body).toBe(201);
    const body = issued.json();
    expect(body).toMatchObject({ role: 'worker', worker_id: worker.workerId, organization_id: vendor.organizationId, name: 'phone', revoked_at: null, last_used_at: null });
    expect(body.key).toMatch(/^fl_[a-z0-9]{12}_/);
    expect(await keyRow(body.id)).toMatchObject({ organization_id: vendor.organizationId, worker_id: worker.workerId, role: 'worker', name: 'phone', revoked_at: null });

    const me = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(body.key) });
    expect(me.json()).toMatchObject({ key_id: body.id, role: 'worker', organization_id: vendor.organizationId, worker_id: worker.workerId });

    const client = await seed.client();
    const job = await seed.job(client, { status: 'active' });
    const [task] = await seed.tasks(job.id, 1);
    const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: bearer(body.key) });
    expect(claimed.statusCode, claimed.body).toBe(200);
    expect(claimed.json()).toMatchObject({ worker_id: worker.workerId, job_id: job.id, task_id: task!.id });
  });

  test('defaults the name to empty, and an Idempotency-Key issues no second key: a replay is a 409 secret_already_issued naming the first', async ({ env, seed, issueWorkerKey }) => {
    const vendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const unnamed = await issueWorkerKey(worker.workerId, vendor, {});
    expect(unnamed.statusCode, unnamed.body).toBe(201);
    expect(unnamed.json().name).toBe('');

    const first = await issueWorkerKey(worker.workerId, vendor, { name: 'tablet' }, { 'idempotency-key': 'worker-key-1' });
    const again = await issueWorkerKey(worker.workerId, vendor, { name: 'tablet' }, { 'idempotency-key': 'worker-key-1' });
    expect(first.statusCode).toBe(201);
    // The key is shown once and never stored, so it cannot be replayed (see test/security/secrets.test.ts).
    expect(expectError(again, 409, 'secret_already_issued').details[0]).toMatchObject({ id: first.json().id });
    const tablets = await env.db.selectFrom('api_keys').select('id').where('worker_id', '=', worker.workerId).where('name', '=', 'tablet').execute();
    expect(tablets).toHaveLength(1);
  });

  test("lets a platform admin issue a key for any vendor's worker, in that vendor's organization", async ({ seed, issueWorkerKey }) => {
    const admin = await seed.platformKey('admin');
    const vendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const issued = await issueWorkerKey(worker.workerId, admin);
    expect(issued.statusCode, issued.body).toBe(201);
    expect(issued.json()).toMatchObject({ organization_id: vendor.organizationId, worker_id: worker.workerId, role: 'worker' });
  });

  test("answers 404 for another vendor's worker and an unknown worker, 403 for other roles, 400 for a malformed id or body; issues nothing", async ({ env, seed, issueWorkerKey }) => {
    const vendor = await seed.vendor();
    const otherVendor = await seed.vendor();
    const theirs = await seed.worker(otherVendor);
    const before = await env.db.selectFrom('api_keys').select('id').where('worker_id', '=', theirs.workerId).execute();

    const foreign = await issueWorkerKey(theirs.workerId, vendor);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('not_found');
    const unknown = await issueWorkerKey('00000000-0000-4000-8000-000000000000', vendor);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');

    for (const who of [await seed.client(), theirs, await seed.platformKey('ops')]) {
      const refused = await issueWorkerKey(theirs.workerId, who);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('forbidden');
    }
    const malformed = await issueWorkerKey('not-a-uuid', otherVendor);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('validation_failed');
    const extra = await issueWorkerKey(theirs.workerId, otherVendor, { name: 'x', role: 'admin' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.code).toBe('validation_failed');

    const after = await env.db.selectFrom('api_keys').select('id').where('worker_id', '=', theirs.workerId).execute();
    expect(after).toEqual(before);
  });
});

describe('POST /v1/organizations/:id/api-keys for a worker', () => {
  test("refuses a worker of another vendor with 422 unknown_worker, and a client organization's worker key with 422 role_not_allowed", async ({ app, env, seed }) => {
    const vendor = await seed.vendor();
    const otherVendor = await seed.vendor();
    const theirs = await seed.worker(otherVendor);
    const client = await seed.client();
    for (const [who, code] of [
      [vendor, 'unknown_worker'],
      [client, 'role_not_allowed'],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: `/v1/organizations/${who.organizationId}/api-keys`, headers: who.auth, payload: { role: 'worker', worker_id: theirs.workerId } });
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe(code);
    }
    expect(await env.db.selectFrom('api_keys').select('id').where('worker_id', '=', theirs.workerId).execute()).toHaveLength(1);
  });
});

describe('last_used_at', () => {
  test('is recorded by the keys module when a key is used through the gateway', async ({ app, seed, keyRow }) => {
    const client = await seed.client();
    expect((await keyRow(client.keyId)).last_used_at).toBeNull();
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: client.auth })).statusCode).toBe(200);
    // The write is best effort and off the request's path: wait for it, bounded.
    await expect.poll(async () => (await keyRow(client.keyId)).last_used_at, { timeout: 5000, interval: 20 }).toBeInstanceOf(Date);
    const listed = await app.inject({ method: 'GET', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth });
    expect(listed.json().data.find((k: { id: string }) => k.id === client.keyId).last_used_at).toEqual(expect.any(String));
  });
});

describe('revocation of a worker key', () => {
  test('by its vendor stops it at once; another vendor gets 404 and the key keeps working until then', async ({ app, seed, issueWorkerKey }) => {
    const vendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const issued = (await issueWorkerKey(worker.workerId, vendor)).json();
    const otherVendor = await seed.vendor();
    const foreign = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${issued.id}`, headers: otherVendor.auth });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('not_found');
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(issued.key) })).statusCode).toBe(200);

    const revoked = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${issued.id}`, headers: vendor.auth });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: issued.id, revoked_at: expect.any(String) });
    const after = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: bearer(issued.key) });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('unauthorized');
    // Revoking again is a no-op that keeps the first revocation time.
    const again = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${issued.id}`, headers: vendor.auth });
    expect(again.json().revoked_at).toBe(revoked.json().revoked_at);
  });
});
