import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, newClient, newPlatformKey, newVendor, newWorker, type Actor, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { buildGateway } from '../src/app.js';

let env: TestEnv;
let app: AppInstance;
let admin: Actor;
let client: Actor;
let otherClient: Actor;

beforeAll(async () => {
  env = await createTestEnv();
  app = await buildGateway(env);
  await app.ready();
  admin = await newPlatformKey(env.db, 'admin');
  client = await newClient(env.db);
  otherClient = await newClient(env.db);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

function expectErrorShape(body: unknown, code: string) {
  expect(body).toMatchObject({ error: { code, message: expect.any(String), details: expect.any(Array) } });
}

describe('authentication', () => {
  const whoami = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/v1/auth/whoami', headers });

  it('accepts a valid key and tells who it is', async () => {
    const res = await whoami(client.auth);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ role: 'client', organization_id: client.organizationId, organization_kind: 'client', worker_id: null });
  });

  it('401s a missing key', async () => {
    const res = await whoami({});
    expect(res.statusCode).toBe(401);
    expectErrorShape(res.json(), 'unauthorized');
  });

  it('401s a malformed Authorization header or key', async () => {
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer not-a-key', `Token ${client.key}`]) {
      const res = await whoami({ authorization });
      expect(res.statusCode, authorization).toBe(401);
      expectErrorShape(res.json(), 'unauthorized');
    }
  });

  it('401s an unknown key and a key with a right prefix but wrong secret', async () => {
    const unknown = await whoami({ authorization: `Bearer fl_aaaaaaaaaaaa_${'A'.repeat(43)}` });
    expect(unknown.statusCode).toBe(401);
    const tampered = client.key.slice(0, -2) + (client.key.endsWith('AA') ? 'BB' : 'AA');
    const wrong = await whoami({ authorization: `Bearer ${tampered}` });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.message).toBe(unknown.json().error.message);
  });

  it('401s a revoked key, at once', async () => {
    const victim = await newClient(env.db);
    expect((await whoami(victim.auth)).statusCode).toBe(200);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.keyId}`, headers: victim.auth });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json().revoked_at).toEqual(expect.any(String));
    const after = await whoami(victim.auth);
    expect(after.statusCode).toBe(401);
    expect(after.json().error.message).toMatch(/revoked/);
  });

  it('a revocation reaches every gateway process at once, though each caches keys', async () => {
    const other = await buildGateway(env);
    await other.ready();
    try {
      const victim = await newClient(env.db);
      // The other process has the key cached from this request...
      expect((await other.inject({ method: 'GET', url: '/v1/auth/whoami', headers: victim.auth })).statusCode).toBe(200);
      // ...and the key is revoked through this one.
      expect((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.keyId}`, headers: victim.auth })).statusCode).toBe(200);
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        status = (await other.inject({ method: 'GET', url: '/v1/auth/whoami', headers: victim.auth })).statusCode;
        if (status === 200) await new Promise((r) => setTimeout(r, 10));
      }
      expect(status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('never logs or returns key secrets in listings', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(client.key);
    expect(res.json().data[0]).not.toHaveProperty('key_hash');
  });
});

describe('authorization', () => {
  it('403s a valid key with the wrong role, before looking at the body', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: client.auth, payload: { nonsense: true } });
    expect(res.statusCode).toBe(403);
    expectErrorShape(res.json(), 'forbidden');
    const vendor = await newVendor(env.db);
    const worker = await newWorker(env.db, vendor.organizationId);
    const listing = await app.inject({ method: 'GET', url: '/v1/organizations', headers: worker.auth });
    expect(listing.statusCode).toBe(403);
  });

  it("404s another organization's resources, as if they did not exist", async () => {
    const org = await app.inject({ method: 'GET', url: `/v1/organizations/${otherClient.organizationId}`, headers: client.auth });
    expect(org.statusCode).toBe(404);
    expectErrorShape(org.json(), 'not_found');
    const keys = await app.inject({ method: 'GET', url: `/v1/organizations/${otherClient.organizationId}/api-keys`, headers: client.auth });
    expect(keys.statusCode).toBe(404);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${otherClient.keyId}`, headers: client.auth });
    expect(revoke.statusCode).toBe(404);
    // ...and the other tenant's key still works.
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: otherClient.auth })).statusCode).toBe(200);
    const issue = await app.inject({ method: 'POST', url: `/v1/organizations/${otherClient.organizationId}/api-keys`, headers: client.auth, payload: { role: 'client' } });
    expect(issue.statusCode).toBe(404);
  });

  it('lets a client see its own organization and issue its own keys, but not other roles', async () => {
    const own = await app.inject({ method: 'GET', url: `/v1/organizations/${client.organizationId}`, headers: client.auth });
    expect(own.statusCode).toBe(200);
    const issued = await app.inject({ method: 'POST', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth, payload: { role: 'client', name: 'ci' } });
    expect(issued.statusCode).toBe(201);
    expect(issued.json().key).toMatch(/^fl_/);
    const works = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: { authorization: `Bearer ${issued.json().key}` } });
    expect(works.statusCode).toBe(200);
    const escalate = await app.inject({ method: 'POST', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth, payload: { role: 'admin' } });
    expect(escalate.statusCode).toBe(422);
    expectErrorShape(escalate.json(), 'role_not_allowed');
  });
});

describe('admin: organizations and keys', () => {
  it('creates organizations and lists them with cursor pagination', async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: { name: `Vendor ${i}`, kind: 'vendor' } });
      expect(res.statusCode).toBe(201);
      created.push(res.json().id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/organizations?kind=vendor&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await app.inject({ method: 'GET', url, headers: admin.auth });
      expect(page.statusCode).toBe(200);
      seen.push(...page.json().data.map((o: { id: string }) => o.id));
      cursor = page.json().next_cursor;
    } while (cursor);
    for (const id of created) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses a platform organization through the API, and worker keys without a worker', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: { name: 'x', kind: 'platform' } });
    expect(res.statusCode).toBe(400);
    const vendor = await newVendor(env.db);
    const key = await app.inject({ method: 'POST', url: `/v1/organizations/${vendor.organizationId}/api-keys`, headers: admin.auth, payload: { role: 'worker' } });
    expect(key.statusCode).toBe(422);
    expectErrorShape(key.json(), 'worker_id_mismatch');
  });

  it('replays a create with the same Idempotency-Key and refuses the key for another body', async () => {
    const headers = { ...admin.auth, 'idempotency-key': 'org-create-1' };
    const first = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name: 'Once', kind: 'client' } });
    const second = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name: 'Once', kind: 'client' } });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    const count = await env.db.selectFrom('organizations').select((eb) => eb.fn.countAll<number>().as('n')).where('name', '=', 'Once').executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
    const other = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name: 'Twice', kind: 'client' } });
    expect(other.statusCode).toBe(422);
    expectErrorShape(other.json(), 'idempotency_key_reused');
  });
});
