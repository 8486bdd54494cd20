import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createDeps } from '@fairlabel/runtime';
import { createLogger } from '@fairlabel/observability';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { buildGateway } from '../src/app.js';

let env: TestEnv;
let app: AppInstance;

beforeAll(async () => {
  env = await createTestEnv();
  app = await buildGateway(env);
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await env.close();
});

describe('health and readiness', () => {
  it('/healthz answers while the process is up', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when Postgres and Redis answer', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', postgres: true, redis: true });
  });

  async function readyzWith(overrides: { DATABASE_URL?: string; REDIS_URL?: string }) {
    const deps = createDeps({ ...env.config, ...overrides }, 'test', { logger: createLogger({ level: 'silent' }) });
    deps.redis.on('error', () => {});
    const broken = await buildGateway(deps);
    try {
      return await broken.inject({ method: 'GET', url: '/readyz' });
    } finally {
      await broken.close();
      await deps.close().catch(() => {});
    }
  }

  it('/readyz is 503 when Redis cannot be reached', async () => {
    const res = await readyzWith({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', postgres: true, redis: false });
  });

  it('/readyz is 503 when Postgres cannot be reached', async () => {
    const res = await readyzWith({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', postgres: false, redis: true });
  });

  it('/metrics exposes Prometheus metrics, including request counts', async () => {
    await app.inject({ method: 'GET', url: '/healthz' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('process_cpu_seconds_total');
    expect(res.body).toMatch(/fairlabel_http_requests_total\{[^}]*route="\/healthz"/);
  });
});

describe('OpenAPI document', () => {
  it('is served at /docs/json without a key and validates as OpenAPI 3.1', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route with an operationId, its request schemas and its response schemas', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        expect(op.operationId, `${method} ${path}`).toEqual(expect.any(String));
        expect(Object.keys(op.responses as object).length, `${method} ${path} responses`).toBeGreaterThan(0);
        if (method === 'post' || method === 'put' || method === 'patch') {
          const body = op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined;
          // Streaming endpoints may declare their content types without a JSON schema; all others have one.
          if (body) expect(Object.keys(body.content ?? {}).length).toBeGreaterThan(0);
        }
      }
    }
    // Every route the server has (except the docs UI itself) is in the document.
    const routes = app.printRoutes({ commonPrefix: false });
    expect(routes.length).toBeGreaterThan(0);
    for (const expected of ['POST /v1/organizations', 'GET /v1/organizations/{id}', 'POST /v1/organizations/{id}/api-keys', 'DELETE /v1/api-keys/{id}', 'GET /readyz']) {
      expect(documented, expected).toContain(expected);
    }
    const orgCreate = doc.paths['/v1/organizations'].post;
    expect(orgCreate.requestBody.content['application/json'].schema.properties).toHaveProperty('kind');
    expect(orgCreate.responses['201'].content['application/json'].schema).toBeDefined();
    expect(orgCreate.responses['400'].content['application/json'].schema).toBeDefined();
  });

  it('every registered route appears in the document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) for (const m of Object.keys(item)) documented.add(`${m.toUpperCase()} ${path}`);
    // The docs UI and the ops console (its sign-in pages and Bull Board, with Bull Board's own JSON
    // calls) are browser pages, not the API; /v1/ops/... is the API and is documented.
    const registered = app.routeTable
      .filter((r) => !r.url.startsWith('/docs') && !(r.url === '/ops' || r.url.startsWith('/ops/')) && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.replace(/::/g, '\u0000').replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\u0000/g, ':')}`);
    expect(registered.length).toBeGreaterThan(5);
    for (const r of registered) expect(documented, r).toContain(r);
  });
});


describe('graceful shutdown', () => {
  it('finishes requests in flight and stops taking new ones', async () => {
    const { buildHttpApp } = await import('@fairlabel/http');
    let release: () => void = () => {};
    let started: () => void = () => {};
    const handlerStarted = new Promise<void>((r) => (started = r));
    const slow = await buildHttpApp({
      deps: env,
      routes: [],
      rootPlugins: [
        async (instance) => {
          instance.get('/slow', { config: { auth: 'public' }, schema: { operationId: 'slow', hide: true } }, async () => {
            const done = new Promise<void>((r) => (release = r));
            started();
            await done;
            return { done: true };
          });
        },
      ],
    });
    await slow.listen({ port: 0, host: '127.0.0.1' });
    const port = (slow.server.address() as { port: number }).port;
    const inFlight = fetch(`http://127.0.0.1:${port}/slow`);
    await handlerStarted;
    const closing = slow.close();
    await new Promise((r) => setTimeout(r, 50));
    // The listening socket is closed: a new connection is refused.
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closing;
  });
});
