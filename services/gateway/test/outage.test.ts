import { describe, expect } from 'vitest';
import type { AppInstance } from '@fairlabel/http';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

// A database outage, made real without touching the shared server: the gateway reaches Postgres
// through a TCP proxy that the test cuts (every connection dropped, new ones refused) and restores.
const test = integrationTest()
  /** The gateway on the file's stack, but reaching Postgres through the proxy. */
  .extend('gateway', { scope: 'file' }, async ({ proxiedEnv }, { onCleanup }): Promise<AppInstance> => {
    const app = await buildGateway(proxiedEnv);
    await app.ready();
    onCleanup(() => app.close());
    return app;
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
function apiRoutes(app: AppInstance) {
  return app.routeTable.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS');
}
async function call(app: AppInstance, method: string, url: string, actor: Actor) {
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  return app.inject({ method: method as 'GET', url: concrete(url), headers: { ...actor.auth, ...(hasBody ? { 'content-type': 'application/json' } : {}) }, ...(hasBody ? { payload: '{}' } : {}) });
}

describe('a database outage', () => {
  test('answers 503 database_unavailable with Retry-After on every route, never 500, and serves again once the database is back', async ({ gateway: app, proxy, admin, client }) => {
    // The admin key is checked (and cached) while the database is up.
    expect((await call(app, 'GET', '/v1/organizations', admin)).statusCode).toBe(200);
    await proxy.cut();
    try {
      const routes = apiRoutes(app);
      expect(routes.length).toBeGreaterThan(20);
      // A key the gateway has not seen yet must be looked up: every route needs the database.
      for (const r of routes) {
        const res = await call(app, r.method, r.url, client);
        expect({ route: `${r.method} ${r.url}`, status: res.statusCode }).toEqual({ route: `${r.method} ${r.url}`, status: 503 });
        expect(res.json()).toEqual({ error: { code: 'database_unavailable', message: expect.any(String), details: [] } });
        expect(res.headers['retry-after']).toBe('5');
      }
      // With the cached admin key requests get past auth: a bad request is still a 4xx, anything that
      // needs the database is a 503 — nothing is a 500.
      const answers: { route: string; status: number; code: string | undefined; retryAfter: unknown }[] = [];
      for (const r of routes) {
        const res = await call(app, r.method, r.url, admin);
        answers.push({ route: `${r.method} ${r.url}`, status: res.statusCode, code: (res.json() as { error?: { code: string } }).error?.code, retryAfter: res.headers['retry-after'] });
      }
      const unavailable = answers.filter((a) => a.status >= 500);
      expect(unavailable.length).toBeGreaterThan(5);
      expect(unavailable.filter((a) => a.status !== 503 || a.code !== 'database_unavailable' || a.retryAfter !== '5')).toEqual([]);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await proxy.restore();
    }
    expect((await call(app, 'GET', '/v1/organizations', admin)).statusCode).toBe(200);
    expect((await call(app, 'GET', '/v1/organizations', client)).statusCode).toBe(403);
  });
});
