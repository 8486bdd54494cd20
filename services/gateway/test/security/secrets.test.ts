import { describe, expect } from 'vitest';
import { isSealed, keyIdOf, keyringFrom, openSecret, parseKey, sealSecret, sealedKeyId, sql } from '@fairlabel/db';
import { expectError, integrationTest } from '@fairlabel/testing';
import { buildGateway } from '../../src/app.js';

const test = integrationTest({ app: buildGateway });

describe('secrets at rest', () => {
  test('a key issued under an Idempotency-Key is never stored, and a replay is a 409 secret_already_issued naming the key', async ({ app, env, admin, client, vendor, seed }) => {
    const post = (url: string, payload: object, auth: object, key: string) =>
      app.inject({ method: 'POST', url, headers: { ...auth, 'idempotency-key': key }, payload });
    const worker = await seed.worker(vendor);
    const issues = [
      { url: `/v1/organizations/${client.organizationId}/api-keys`, payload: { role: 'client', name: 'ci' }, auth: admin.auth, org: admin.organizationId, field: 'key' },
      { url: `/v1/workers/${worker.workerId}/api-keys`, payload: { name: 'tablet' }, auth: vendor.auth, org: vendor.organizationId, field: 'key' },
      { url: '/v1/webhooks', payload: { url: 'https://93.184.215.14/hook', event_types: ['job.completed'] }, auth: client.auth, org: client.organizationId, field: 'secret' },
    ];
    for (const [i, issue] of issues.entries()) {
      const first = await post(issue.url, issue.payload, issue.auth, `issue-${i}`);
      expect(first.statusCode, first.body).toBe(201);
      const secret = first.json()[issue.field] as string;
      expect(secret).toMatch(/^(fl_|whsec_)/);
      const row = await env.db.selectFrom('idempotency_keys').selectAll().where('organization_id', '=', issue.org).where('key', '=', `issue-${i}`).executeTakeFirstOrThrow();
      expect(row.secret_withheld).toBe(true);
      expect(JSON.stringify(row.response_body)).not.toContain(secret);
      expect(row.response_body).not.toHaveProperty(issue.field);
      expect(row.response_body).toMatchObject({ id: first.json().id });

      const replay = await post(issue.url, issue.payload, issue.auth, `issue-${i}`);
      const err = expectError(replay, 409, 'secret_already_issued');
      expect(err.details[0]).toMatchObject({ path: 'headers.idempotency-key', id: first.json().id });
      expect(replay.body).not.toContain(secret);
    }
    // The webhook secret rotation too.
    const endpointId = (await env.db.selectFrom('webhook_endpoints').select('id').where('organization_id', '=', client.organizationId).executeTakeFirstOrThrow()).id;
    const rotated = await post(`/v1/webhooks/${endpointId}/rotate-secret`, {}, client.auth, 'rotate-1');
    expect(rotated.statusCode, rotated.body).toBe(200);
    expectError(await post(`/v1/webhooks/${endpointId}/rotate-secret`, {}, client.auth, 'rotate-1'), 409, 'secret_already_issued');
    // No secret anywhere in the idempotency table.
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM idempotency_keys WHERE response_body::text ~ '(fl_|whsec_)'`.execute(env.db);
    expect(rows[0]!.n).toBe(0);
  });

  test('webhook secrets are stored sealed (AES-256-GCM, bound to their endpoint) and deliveries still sign with them', async ({ app, env, client }) => {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: 'https://93.184.215.14/hook', event_types: ['job.completed'] } });
    expect(res.statusCode, res.body).toBe(201);
    const { id, secret } = res.json() as { id: string; secret: string };
    const rotated = await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/rotate-secret`, headers: client.auth, payload: { grace_period_seconds: 60 } });
    const row = await env.db.selectFrom('webhook_endpoints').select(['secret', 'previous_secret']).where('id', '=', id).executeTakeFirstOrThrow();
    const ring = keyringFrom(env.config.SECRETS_ENCRYPTION_KEY, env.config.SECRETS_ENCRYPTION_OLD_KEYS);
    expect(isSealed(row.secret)).toBe(true);
    expect(row.secret).not.toContain('whsec_');
    expect(openSecret(ring, row.secret, id)).toBe(rotated.json().secret);
    expect(openSecret(ring, row.previous_secret!, id)).toBe(secret);
    // Copied to another row, a sealed secret does not open.
    expect(() => openSecret(ring, row.secret, client.organizationId)).toThrow();
    // The endpoint list and reads never carry it.
    const read = await app.inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: client.auth });
    expect(read.body).not.toContain('whsec_');
    expect(read.body).not.toContain('fl1.');
  });

  test('rotation of the encryption key: old keys open, the current one seals, an unknown key id is named', () => {
    const oldKey = Buffer.alloc(32, 1).toString('base64');
    const newKey = Buffer.alloc(32, 2).toString('base64');
    const before = keyringFrom(oldKey);
    const sealed = sealSecret(before, 'whsec_abc', 'row-1');
    expect(sealedKeyId(sealed)).toBe(keyIdOf(parseKey(oldKey)));
    const after = keyringFrom(newKey, oldKey);
    expect(openSecret(after, sealed, 'row-1')).toBe('whsec_abc');
    const resealed = sealSecret(after, openSecret(after, sealed, 'row-1'), 'row-1');
    expect(sealedKeyId(resealed)).toBe(keyIdOf(parseKey(newKey)));
    expect(() => openSecret(keyringFrom(newKey), sealed, 'row-1')).toThrow(/not configured/);
    expect(() => keyringFrom(undefined)).toThrow(/SECRETS_ENCRYPTION_KEY is not set/);
    expect(() => keyringFrom('c2hvcnQ=')).toThrow(/32 bytes/);
  });

  test('no other secret is kept in clear: every column that could hold one is a hash or sealed', async ({ env }) => {
    const { rows } = await sql<{ table_name: string; column_name: string }>`
      SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name ~ '(secret|password|token|api_key|private|credential)' ORDER BY 1, 2
    `.execute(env.db);
    // API keys are kept as hashes (api_keys.key_hash); the two webhook secrets are sealed; secret_withheld is a
    // flag. A new column that may hold a secret fails here until it is sealed or hashed and listed.
    expect(rows.map((r) => `${r.table_name}.${r.column_name}`)).toEqual([
      'idempotency_keys.secret_withheld',
      'webhook_endpoints.previous_secret',
      'webhook_endpoints.previous_secret_expires_at',
      'webhook_endpoints.secret',
    ]);
  });
});
