import { describe, expect } from 'vitest';
import { Job, Queue, Worker } from 'bullmq';
import { stackQueueNames } from '@fairlabel/queues';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';
import { revokeApiKeyAs } from '../src/api-keys.service.js';

const base = integrationTest({ app: buildGateway, config: { OPS_SESSION_TTL_SECONDS: 600 } })
  .extend('settlement', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const settlement = new Queue('settlement', { connection: env.redis, prefix: env.prefix });
    onCleanup(() => settlement.close());
    return settlement;
  });

/** What a browser on the console's own page sends with a form post or a fetch. */
const sameOrigin = { 'sec-fetch-site': 'same-origin' };

const test = base
  .extend('login', async ({ app }) => async (key: string, headers: Record<string, string> = sameOrigin, next?: string) => {
    return app.inject({
      method: 'POST',
      url: '/ops/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload: new URLSearchParams({ key, ...(next ? { next } : {}) }).toString(),
    });
  })
  /** Signs in and returns the Cookie header value of the session. */
  .extend('session', async ({ login }) => async (actor: Actor) => {
    const res = await login(actor.key);
    expect(res.statusCode).toBe(303);
    const cookie = String(res.headers['set-cookie']);
    return cookie.split(';')[0]!;
  })
  .extend('failJob', async ({ env, settlement }) => async (id: string) => {
    await settlement.add('task.decided', { task_id: 1 }, { jobId: id, attempts: 1 });
    const connection = env.redis.duplicate();
    const worker = new Worker('settlement', async () => Promise.reject(new Error('ledger refused the posting')), { connection, prefix: env.prefix });
    try {
      for (let i = 0; i < 200 && (await settlement.getFailedCount()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });

describe('signing in to the ops console', () => {
  test('without a session, a page redirects to the sign-in and the board API answers 401', async ({ app }) => {
    const pageRes = await app.inject({ method: 'GET', url: '/ops/queues/queue/settlement' });
    expect(pageRes.statusCode).toBe(302);
    expect(pageRes.headers.location).toBe('/ops/login?next=%2Fops%2Fqueues%2Fqueue%2Fsettlement');
    const api = await app.inject({ method: 'GET', url: '/ops/queues/api/queues' });
    expect(api.statusCode).toBe(401);
    expect(api.json().error.code).toBe('unauthorized');
    expect((await app.inject({ method: 'GET', url: '/ops' })).headers.location).toBe('/ops/queues');
    const form = await app.inject({ method: 'GET', url: '/ops/login?next=/ops/queues/queue/settlement' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('name="key"');
    expect(form.body).toContain('value="/ops/queues/queue/settlement"');
    expect(form.headers['x-frame-options']).toBe('DENY');
  });

  test('an ops key gets an HttpOnly, SameSite=Strict session cookie that holds neither the key nor anything derived from it, and lands where it was going', async ({ app, env, ops, login }) => {
    const res = await login(ops.key, sameOrigin, '/ops/queues/queue/settlement');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/ops/queues/queue/settlement');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^fl_ops_session=[A-Za-z0-9_-]{43}; Path=\/ops; Max-Age=600; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(ops.key);
    expect(cookie).not.toContain(ops.key.split('_')[1]);
    // The session is in Redis under the hash of its id, with the TTL; the id itself is nowhere in Redis.
    const id = cookie.split(';')[0]!.split('=')[1]!;
    const keys = await env.redis.keys(`${env.prefix}:ops:session:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.includes(id))).toBe(false);
    const ttl = await env.redis.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    for (const k of keys) expect(await env.redis.get(k)).not.toContain(ops.key);

    const board = await app.inject({ method: 'GET', url: '/ops/queues', headers: { cookie: cookie.split(';')[0]! } });
    expect(board.statusCode).toBe(200);
    expect(board.headers['content-type']).toContain('text/html');
    const api = await app.inject({ method: 'GET', url: '/ops/queues/api/queues?activeQueue=settlement&status=failed', headers: { cookie: cookie.split(';')[0]! } });
    expect(api.statusCode).toBe(200);
    expect(api.json().queues.map((q: { name: string }) => q.name).sort()).toEqual([...stackQueueNames].sort());
  });

  test('the cookie is Secure when the console is reached over https', async ({ admin, login }) => {
    const res = await login(admin.key, { ...sameOrigin, 'x-forwarded-proto': 'https' });
    expect(String(res.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  test('refuses other keys: a client or vendor key with 403, a wrong key with 401, both on the form and without a session', async ({ app, seed, ops, login }) => {
    for (const [actor, status] of [
      [await seed.client(), 403],
      [await seed.vendor(), 403],
      [await seed.platformKey('finance'), 403],
    ] as const) {
      const res = await login(actor.key);
      expect(res.statusCode).toBe(status);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body).toContain('the console is for ops and admin keys');
    }
    const wrong = await login(`${ops.key.slice(0, -4)}AAAA`);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const forged = await app.inject({ method: 'GET', url: '/ops/queues/api/queues', headers: { cookie: `fl_ops_session=${'A'.repeat(43)}` } });
    expect(forged.statusCode).toBe(401);
  });

  test('refuses a sign-in posted from another site (login CSRF)', async ({ ops, login }) => {
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
      const res = await login(ops.key, headers);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('cross_site_request');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // A browser without Sec-Fetch-* headers but with this origin is fine.
    expect((await login(ops.key, { origin: 'http://localhost:80' })).statusCode).toBe(303);
  });

  test('signing out ends the session at once; revoking the key ends its sessions too', async ({ app, env, seed, admin, ops, session }) => {
    const cookie = await session(ops);
    const out = await app.inject({ method: 'POST', url: '/ops/logout', headers: { cookie, ...sameOrigin } });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/ops/login');
    expect(String(out.headers['set-cookie'])).toMatch(/^fl_ops_session=; Path=\/ops; Max-Age=0; HttpOnly; SameSite=Strict$/);
    expect((await app.inject({ method: 'GET', url: '/ops/queues/api/queues', headers: { cookie } })).statusCode).toBe(401);

    const doomed = await seed.platformKey('ops');
    const doomedCookie = await session(doomed);
    expect((await app.inject({ method: 'GET', url: '/ops/queues/api/queues', headers: { cookie: doomedCookie } })).statusCode).toBe(200);
    await revokeApiKeyAs({ db: env.db, announce: async () => {} }, { keyId: admin.keyId, keyPrefix: '', role: 'admin', organizationId: admin.organizationId, organizationKind: 'platform', workerId: null }, doomed.keyId);
    expect((await app.inject({ method: 'GET', url: '/ops/queues/api/queues', headers: { cookie: doomedCookie } })).statusCode).toBe(401);
  });
});

describe('acting from the console', () => {
  test('retries a failed job (audited), and a job that is not failed is a 409', async ({ app, env, ops, settlement, session, failJob }) => {
    const cookie = await session(ops);
    await failJob('outbox-501');
    const res = await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/outbox-501/retry', headers: { cookie, ...sameOrigin } });
    expect(res.statusCode).toBe(204);
    expect(await (await Job.fromId(settlement, 'outbox-501'))!.getState()).toBe('waiting');
    const again = await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/outbox-501/retry', headers: { cookie, ...sameOrigin } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('job_not_failed');
    const audit = await env.db.selectFrom('audit_log').select(['action', 'actor_key_id']).where('resource_id', '=', 'settlement/outbox-501').execute();
    expect(audit).toEqual([{ action: 'ops.job.retry', actor_key_id: ops.keyId }]);
    await settlement.obliterate({ force: true });
  });

  test('pauses and resumes a queue through the board, audited as console actions', async ({ app, env, admin, settlement, session }) => {
    const cookie = await session(admin);
    expect((await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/pause', headers: { cookie, ...sameOrigin } })).statusCode).toBe(200);
    expect(await settlement.isPaused()).toBe(true);
    expect((await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/resume', headers: { cookie, ...sameOrigin } })).statusCode).toBe(200);
    expect(await settlement.isPaused()).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    const audit = await env.db.selectFrom('audit_log').select(['action', 'details']).where('resource_type', '=', 'queue').where('resource_id', '=', 'settlement').orderBy('id').execute();
    expect(audit).toEqual([
      { action: 'ops.queue.pause', details: { via: 'ops console' } },
      { action: 'ops.queue.resume', details: { via: 'ops console' } },
    ]);
  });

  test('refuses state changes from another site, and the ones that would lose or duplicate events', async ({ app, ops, settlement, session, failJob }) => {
    const cookie = await session(ops);
    await failJob('outbox-502');
    const crossSite = await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/outbox-502/retry', headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().error.code).toBe('cross_site_request');
    const noOrigin = await app.inject({ method: 'PUT', url: '/ops/queues/api/queues/settlement/pause', headers: { cookie } });
    expect(noOrigin.statusCode).toBe(403);
    expect(await settlement.isPaused()).toBe(false);
    for (const [method, url] of [
      ['PUT', '/ops/queues/api/queues/settlement/empty'],
      ['PUT', '/ops/queues/api/queues/settlement/obliterate'],
      ['PUT', '/ops/queues/api/queues/settlement/clean/completed'],
      ['POST', '/ops/queues/api/queues/settlement/add'],
      ['PATCH', '/ops/queues/api/queues/settlement/outbox-502/update-data'],
      ['PUT', '/ops/queues/api/queues/settlement/retry/completed'],
    ] as const) {
      const res = await app.inject({ method, url, headers: { cookie, ...sameOrigin, 'content-type': 'application/json' }, payload: '{}' });
      expect({ url, status: res.statusCode, code: res.json().error.code }).toEqual({ url, status: 403, code: 'not_allowed_in_console' });
    }
    expect(await (await Job.fromId(settlement, 'outbox-502'))!.getState()).toBe('failed');
    await settlement.obliterate({ force: true });
  });

  test('a job removed from the board is discarded as by the API: an outbox event is marked so the reconciler leaves it gone', async ({ app, env, ops, settlement, session, failJob }) => {
    const cookie = await session(ops);
    const row = await env.db.insertInto('outbox').values({ event: 'task.decided', queue: 'settlement', payload: JSON.stringify({}), sent_at: new Date() }).returning('id').executeTakeFirstOrThrow();
    await failJob(`outbox-${row.id}`);
    const res = await app.inject({ method: 'PUT', url: `/ops/queues/api/queues/settlement/outbox-${row.id}/clean`, headers: { cookie, ...sameOrigin } });
    expect(res.statusCode).toBe(204);
    expect(await Job.fromId(settlement, `outbox-${row.id}`)).toBeUndefined();
    expect((await env.db.selectFrom('outbox').select('discarded_at').where('id', '=', row.id).executeTakeFirstOrThrow()).discarded_at).toBeInstanceOf(Date);
  });
});

describe('the console pages are not part of the API', () => {
  test('do not appear in the OpenAPI document', async ({ app }) => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/ops'))).toEqual([]);
    expect(Object.keys(doc.paths)).toContain('/v1/ops/queues');
  });
});
