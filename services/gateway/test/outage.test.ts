import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInstance } from '@fairlabel/http';
import { createLogger } from '@fairlabel/observability';
import { createDeps, type Deps } from '@fairlabel/runtime';
import { createTestEnv, newClient, newPlatformKey, proxyFor, type Actor, type TcpProxy, type TestEnv } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

// A database outage, made real without touching the shared server: the gateway reaches Postgres
// through a TCP proxy that the test cuts (every connection dropped, new ones refused) and restores.
let env: TestEnv;
let proxy: TcpProxy;
let deps: Deps;
let app: AppInstance;
let admin: Actor;
let client: Actor;

beforeAll(async () => {
  env = await createTestEnv();
  proxy = await proxyFor(env.config.DATABASE_URL);
  deps = createDeps({ ...env.config, DATABASE_URL: proxy.rewrite(env.config.DATABASE_URL) }, 'test', { logger: createLogger({ level: 'silent' }) });
  app = await buildGateway(deps);
  await app.ready();
  admin = await newPlatformKey(env.db, 'admin');
  client = await newClient(env.db);
});
afterAll(async () => {
  await app.close();
  await deps.close();
  await proxy.cut();
  await env.close();
});

const ID = '00000000-0000-4000-8000-000000000000';
/** A route pattern as a request path: parameters filled in, `::` (a literal colon) unescaped. */
function concrete(url: string): string {
  return url
    .split('::')
    .map((part) => part.replace(/:[A-Za-z_]+/g, ID))
    .join(':');
}
/** Every API route of the gateway (the ops routes and the docs do not touch Postgres). */
function apiRoutes() {
  return app.routeTable.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS');
}
async function call(method: string, url: string, actor: Actor) {
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  return app.inject({ method: method as 'GET', url: concrete(url), headers: { ...actor.auth, ...(hasBody ? { 'content-type': 'application/json' } : {}) }, ...(hasBody ? { payload: '{}' } : {}) });
}

describe('a database outage', () => {
  it('answers 503 database_unavailable with Retry-After on every route, never 500, and serves again once the database is back', async () => {
    // The admin key is checked (and cached) while the database is up.
    expect((await call('GET', '/v1/organizations', admin)).statusCode).toBe(200);
    await proxy.cut();
    try {
      const routes = apiRoutes();
      expect(routes.length).toBeGreaterThan(20);
      // A key the gateway has not seen yet must be looked up: every route needs the database.
      for (const r of routes) {
        const res = await call(r.method, r.url, client);
        expect({ route: `${r.method} ${r.url}`, status: res.statusCode }).toEqual({ route: `${r.method} ${r.url}`, status: 503 });
        expect(res.json()).toEqual({ error: { code: 'database_unavailable', message: expect.any(String), details: [] } });
        expect(res.headers['retry-after']).toBe('5');
      }
      // With the cached admin key requests get past auth: a bad request is still a 4xx, anything that
      // needs the database is a 503 — nothing is a 500.
      const statuses = new Map<number, number>();
      for (const r of routes) {
        const res = await call(r.method, r.url, admin);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, `${r.method} ${r.url}`).not.toBe(500);
        if (res.statusCode >= 500) {
          expect(res.statusCode, `${r.method} ${r.url}`).toBe(503);
          expect(res.json().error.code).toBe('database_unavailable');
          expect(res.headers['retry-after']).toBe('5');
        }
      }
      expect(statuses.get(503)).toBeGreaterThan(5);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await proxy.restore();
    }
    expect((await call('GET', '/v1/organizations', admin)).statusCode).toBe(200);
    expect((await call('GET', '/v1/organizations', client)).statusCode).toBe(403);
  });
});
