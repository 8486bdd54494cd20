import { describe, expect } from 'vitest';
import { expectError, integrationTest } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

const test = integrationTest({ app: buildGateway }).extend('whoami', async ({ app }) => (headers: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/v1/auth/whoami', headers }),
);

describe('authentication', () => {
  test('accepts a valid key and tells who it is', async ({ client, whoami }) => {
    const res = await whoami(client.auth);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ role: 'client', organization_id: client.organizationId, organization_kind: 'client', worker_id: null });
  });

  test('401s a missing key', async ({ whoami }) => {
    const res = await whoami({});
    expectError(res, 401, 'unauthorized');
  });

  test('401s a malformed Authorization header or key', async ({ client, whoami }) => {
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer not-a-key', `Token ${client.key}`]) {
      const res = await whoami({ authorization });
      expectError(res, 401, 'unauthorized');
    }
  });

  test('401s an unknown key and a key with a right prefix but wrong secret', async ({ client, whoami }) => {
    const unknown = await whoami({ authorization: `Bearer fl_aaaaaaaaaaaa_${'A'.repeat(43)}` });
    expectError(unknown, 401, 'unauthorized');
    const tampered = client.key.slice(0, -2) + (client.key.endsWith('AA') ? 'BB' : 'AA');
    const wrong = await whoami({ authorization: `Bearer ${tampered}` });
    expect(expectError(wrong, 401, 'unauthorized').message).toBe(unknown.json().error.message);
  });

  test('401s a revoked key, at once', async ({ app, seed, whoami }) => {
    const victim = await seed.client();
    expect((await whoami(victim.auth)).statusCode).toBe(200);
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.keyId}`, headers: victim.auth });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json().revoked_at).toEqual(expect.any(String));
    expect(expectError(await whoami(victim.auth), 401, 'unauthorized').message).toMatch(/revoked/);
  });

  test('a revocation reaches every gateway process at once, though each caches keys', async ({ app, env, seed }) => {
    const other = await buildGateway(env);
    await other.ready();
    try {
      const victim = await seed.client();
      // The other process has the key cached from this request...
      expect((await other.inject({ method: 'GET', url: '/v1/auth/whoami', headers: victim.auth })).statusCode).toBe(200);
      // ...and the key is revoked through this one.
      expect((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${victim.keyId}`, headers: victim.auth })).statusCode).toBe(200);
      // The revocation is broadcast; the other process drops its cached key when the message arrives.
      await expect.poll(async () => (await other.inject({ method: 'GET', url: '/v1/auth/whoami', headers: victim.auth })).statusCode, { timeout: 2000, interval: 10 }).toBe(401);
    } finally {
      await other.close();
    }
  });

  test('never logs or returns key secrets in listings', async ({ app, client }) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(client.key);
    expect(res.json().data[0]).not.toHaveProperty('key_hash');
  });
});

describe('authorization', () => {
  test('403s a valid key with the wrong role, before looking at the body', async ({ app, client, worker }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: client.auth, payload: { nonsense: true } });
    expectError(res, 403, 'forbidden');
    expectError(await app.inject({ method: 'GET', url: '/v1/organizations', headers: worker.auth }), 403, 'forbidden');
  });

  test("404s another organization's resources, as if they did not exist", async ({ app, seed, client }) => {
    const otherClient = await seed.client();
    const org = await app.inject({ method: 'GET', url: `/v1/organizations/${otherClient.organizationId}`, headers: client.auth });
    expectError(org, 404, 'not_found');
    const keys = await app.inject({ method: 'GET', url: `/v1/organizations/${otherClient.organizationId}/api-keys`, headers: client.auth });
    expectError(keys, 404, 'not_found');
    const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${otherClient.keyId}`, headers: client.auth });
    expectError(revoke, 404, 'not_found');
    // ...and the other tenant's key still works.
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: otherClient.auth })).statusCode).toBe(200);
    const issue = await app.inject({ method: 'POST', url: `/v1/organizations/${otherClient.organizationId}/api-keys`, headers: client.auth, payload: { role: 'client' } });
    expectError(issue, 404, 'not_found');
  });

  test('lets a client see its own organization and issue its own keys, but not other roles', async ({ app, client }) => {
    const own = await app.inject({ method: 'GET', url: `/v1/organizations/${client.organizationId}`, headers: client.auth });
    expect(own.statusCode).toBe(200);
    const issued = await app.inject({ method: 'POST', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth, payload: { role: 'client', name: 'ci' } });
    expect(issued.statusCode).toBe(201);
    expect(issued.json().key).toMatch(/^fl_/);
    const works = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: { authorization: `Bearer ${issued.json().key}` } });
    expect(works.statusCode).toBe(200);
    const escalate = await app.inject({ method: 'POST', url: `/v1/organizations/${client.organizationId}/api-keys`, headers: client.auth, payload: { role: 'admin' } });
    expectError(escalate, 422, 'role_not_allowed');
  });
});

describe('admin: organizations and keys', () => {
  test('creates organizations and lists them with cursor pagination', async ({ app, admin }) => {
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

  test('refuses a platform organization through the API, and worker keys without a worker', async ({ app, admin, vendor }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: { name: 'x', kind: 'platform' } });
    expectError(res, 400, 'validation_failed');
    const key = await app.inject({ method: 'POST', url: `/v1/organizations/${vendor.organizationId}/api-keys`, headers: admin.auth, payload: { role: 'worker' } });
    expectError(key, 422, 'worker_id_mismatch');
  });

  test('replays a create with the same Idempotency-Key and refuses the key for another body', async ({ app, env, admin }) => {
    const headers = { ...admin.auth, 'idempotency-key': 'org-create-1' };
    const name = `Once ${admin.keyId}`;
    const first = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name, kind: 'client' } });
    const second = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name, kind: 'client' } });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    const count = await env.db.selectFrom('organizations').select((eb) => eb.fn.countAll<number>().as('n')).where('name', '=', name).executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
    const other = await app.inject({ method: 'POST', url: '/v1/organizations', headers, payload: { name: 'Twice', kind: 'client' } });
    expectError(other, 422, 'idempotency_key_reused');
  });
});
