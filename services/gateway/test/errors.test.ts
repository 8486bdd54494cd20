import { describe, expect } from 'vitest';
import { createTestEnv, expectError, integrationTest, newPlatformKey } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

const test = integrationTest({ app: buildGateway, config: { BODY_LIMIT_BYTES: 4096, RATE_LIMIT_MAX: 1000 } }).extend(
  'post',
  async ({ app, admin }) =>
    (payload: string, contentType = 'application/json') =>
      app.inject({ method: 'POST', url: '/v1/organizations', headers: { ...admin.auth, 'content-type': contentType }, payload }),
);

describe('bad input gets a 4xx in the one error shape', () => {
  test('malformed JSON is a 400', async ({ post }) => {
    expectError(await post('{"name": "x", '), 400, 'malformed_json');
    expectError(await post(''), 400, 'malformed_json');
  });

  test('wrong types list each bad field', async ({ post }) => {
    const err = expectError(await post(JSON.stringify({ name: 42, kind: 'spaceship' })), 400, 'validation_failed');
    const paths = (err.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(['body.kind', 'body.name']);
  });

  test('unknown fields are refused where the schema is strict', async ({ post }) => {
    const err = expectError(await post(JSON.stringify({ name: 'x', kind: 'client', is_admin: true })), 400, 'validation_failed');
    expect(JSON.stringify(err.details)).toContain('is_admin');
  });

  test('a too-large body is a 413', async ({ post }) => {
    expectError(await post(JSON.stringify({ name: 'x'.repeat(10_000), kind: 'client' })), 413, 'body_too_large');
  });

  test('an unsupported content type is a 415', async ({ post }) => {
    expectError(await post('name=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  });

  test('a malformed path parameter is a 400, not a 500', async ({ app, admin }) => {
    const res = await app.inject({ method: 'GET', url: '/v1/organizations/not-a-uuid', headers: admin.auth });
    expectError(res, 400, 'validation_failed');
  });

  test('a bad cursor is a 400', async ({ app, admin }) => {
    const res = await app.inject({ method: 'GET', url: '/v1/organizations?cursor=garbage', headers: admin.auth });
    expectError(res, 400, 'invalid_cursor');
  });

  test('an unknown route is a 404 in the same shape', async ({ app, admin }) => {
    expectError(await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: admin.auth }), 404, 'route_not_found');
    expectError(await app.inject({ method: 'DELETE', url: '/healthz' }), 404, 'route_not_found');
  });

  test('every response carries a request id, and a caller-supplied one is kept', async ({ app }) => {
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers['x-request-id']).toBe('trace-123');
    const fresh = await app.inject({ method: 'GET', url: '/healthz' });
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('every response says how long the server held it (Server-Timing), errors included', async ({ app, admin }) => {
    for (const res of [
      await app.inject({ method: 'GET', url: '/healthz' }),
      await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: admin.auth }),
      await app.inject({ method: 'GET', url: '/v1/jobs' }),
    ]) {
      const m = /^app;dur=(\d+\.\d)$/.exec(String(res.headers['server-timing']));
      expect(m, `${res.statusCode} ${String(res.headers['server-timing'])}`).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(0);
      expect(Number(m![1])).toBeLessThan(60_000);
    }
  });
});

describe('rate limits', () => {
  test('answer 429 with Retry-After, per API key, stored in Redis', async () => {
    const limited = await createTestEnv({ RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW_MS: 60_000 });
    const small = await buildGateway(limited);
    await small.ready();
    try {
      const a = await newPlatformKey(limited.db, 'admin');
      const b = await newPlatformKey(limited.db, 'ops');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await small.inject({ method: 'GET', url: '/v1/auth/whoami', headers: a.auth })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const res = await small.inject({ method: 'GET', url: '/v1/auth/whoami', headers: a.auth });
      expectError(res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // Another key has its own budget.
      expect((await small.inject({ method: 'GET', url: '/v1/auth/whoami', headers: b.auth })).statusCode).toBe(200);
      const keys = await limited.redis.keys(`${limited.prefix}:ratelimit:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      await small.close();
      await limited.close();
    }
  });
});
