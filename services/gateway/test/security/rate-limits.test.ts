import { describe, expect } from 'vitest';
import { integrationTest } from '@fairlabel/testing';
import { buildGateway } from '../../src/app.js';

// A small IP budget for this file's stack; each test uses addresses of its own (inject's remoteAddress),
// so the budgets of the tests do not mix.
const test = integrationTest({ app: buildGateway, config: { RATE_LIMIT_IP_MAX: 3, RATE_LIMIT_WINDOW_MS: 60_000 } });
const trusting = integrationTest({ app: buildGateway, config: { RATE_LIMIT_IP_MAX: 2, RATE_LIMIT_WINDOW_MS: 60_000, TRUST_PROXY: true } });

describe('rate limits by IP for requests no key answers for', () => {
  test('requests without a key, with a wrong key and for unknown routes spend one budget per IP, then 429 with Retry-After', async ({ app, env }) => {
    const from = (remoteAddress: string, headers: Record<string, string> = {}, url = '/v1/auth/whoami') => app.inject({ method: 'GET', url, headers, remoteAddress });
    const noKey: number[] = [];
    for (let i = 0; i < 4; i++) noKey.push((await from('198.51.100.1')).statusCode);
    expect(noKey).toEqual([401, 401, 401, 429]);
    const limited = await from('198.51.100.1', { authorization: 'Bearer fl_nothing_nothing' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: 'rate_limited', details: [] } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    const wrongKey: number[] = [];
    for (let i = 0; i < 4; i++) wrongKey.push((await from('198.51.100.2', { authorization: `Bearer fl_abcdefgh_${'x'.repeat(32)}` })).statusCode);
    expect(wrongKey).toEqual([401, 401, 401, 429]);

    const scans: number[] = [];
    for (let i = 0; i < 4; i++) scans.push((await from('198.51.100.3', {}, `/v1/admin-${i}`)).statusCode);
    expect(scans).toEqual([404, 404, 404, 429]);
    // One budget for both kinds of failure.
    expect((await from('198.51.100.3')).statusCode).toBe(429);
    expect(await env.redis.get(`${env.prefix}:ipbudget:198.51.100.3`)).toBe('5');
  });

  test('failed ops console sign-ins spend the same budget, then 429; a wrong key never gets a session', async ({ app }) => {
    const signIn = (key: string, remoteAddress: string) =>
      app.inject({
        method: 'POST',
        url: '/ops/login',
        remoteAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        payload: new URLSearchParams({ key }).toString(),
      });
    const guesses = [];
    for (let i = 0; i < 4; i++) guesses.push(await signIn(`fl_abcdefgh_${String(i).repeat(32)}`, '198.51.100.30'));
    expect(guesses.map((r) => r.statusCode)).toEqual([401, 401, 401, 429]);
    expect(guesses.every((r) => r.headers['set-cookie'] === undefined)).toBe(true);
    expect(guesses[3]!.json()).toMatchObject({ error: { code: 'rate_limited' } });
    // The same address's API requests without a key are over the budget too: one budget per address.
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', remoteAddress: '198.51.100.30' })).statusCode).toBe(429);
  });

  test('a valid key keeps working from an address whose budget failed requests spent', async ({ app, client }) => {
    for (let i = 0; i < 4; i++) await app.inject({ method: 'GET', url: '/v1/auth/whoami', remoteAddress: '198.51.100.9' });
    expect((await app.inject({ method: 'GET', url: '/v1/auth/whoami', remoteAddress: '198.51.100.9' })).statusCode).toBe(429);
    const res = await app.inject({ method: 'GET', url: '/v1/auth/whoami', headers: client.auth, remoteAddress: '198.51.100.9' });
    expect(res.statusCode, res.body).toBe(200);
  });

  test('X-Forwarded-For is ignored unless TRUST_PROXY is set', async ({ app }) => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: '/v1/auth/whoami', remoteAddress: '198.51.100.20', headers: { 'x-forwarded-for': `203.0.113.${i}` } })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('behind a trusted proxy', () => {
  trusting('each forwarded client address has its own budget', async ({ app }) => {
    const from = (ip: string) => app.inject({ method: 'GET', url: '/v1/auth/whoami', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': ip } });
    const a = [(await from('203.0.113.7')).statusCode, (await from('203.0.113.7')).statusCode, (await from('203.0.113.7')).statusCode];
    expect(a).toEqual([401, 401, 429]);
    expect((await from('203.0.113.8')).statusCode).toBe(401);
  });
});
