import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, newClient, newPlatformKey, type TestEnv } from '@fairlabel/testing';
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

describe('smoke', () => {
  it('works', async () => {
    const admin = await newPlatformKey(env.db);
    const res = await app.inject({ method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: { name: 'Acme', kind: 'client' } });
    expect(res.statusCode, res.body).toBe(201);
    const client = await newClient(env.db);
    const who = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: client.auth });
    expect(who.json().role).toBe('client');
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
  });
});
