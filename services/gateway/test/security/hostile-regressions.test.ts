/**
 * Each hostile input of issue 9 that answered 500, as a test of its exact answer now. The drawn suite
 * (hostile-input.test.ts) looks for new ones; these pin down the known ones.
 */
import { describe, expect } from 'vitest';
import { MAX_PRICE_MINOR } from '@fairlabel/contracts';
import { expectError, integrationTest, sampleAnswers } from '@fairlabel/testing';
import { decodeCursor, encodeCursor, findUnsafeJson, jsonTooDeepAt } from '@fairlabel/http';
import { buildGateway } from '../../src/app.js';
import { operationsOf } from './openapi-walk.js';

const test = integrationTest({ app: buildGateway, config: { RATE_LIMIT_MAX: 100_000 } });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const UUID = '00000000-0000-4000-8000-000000000000';
const forgedCursors = {
  'not a date': b64(['not-a-date', UUID]),
  infinity: b64(['infinity', UUID]),
  '2026-02-30': b64(['2026-02-30T00:00:00.000Z', UUID]),
  'an array of numbers': b64([1, 2]),
  NUL: b64(['\u0000', '\u0000']),
  'a huge number': b64([1e308]),
  'a negative id': b64([-1]),
  'an id as a string': b64(['1']),
  'non-canonical base64': `${b64([1])}=`,
  'not base64 JSON': 'garbage',
};

describe('cursors', () => {
  test('decodeCursor takes back exactly what encodeCursor wrote', () => {
    const at = new Date('2026-03-01T12:00:00.123Z');
    expect(decodeCursor(encodeCursor([at, UUID]), ['timestamp', 'uuid'])).toEqual([at.toISOString(), UUID]);
    expect(decodeCursor(encodeCursor([42]), ['int'])).toEqual([42]);
    expect(decodeCursor(encodeCursor([1700000000000, 'outbox-7']), ['int', 'key'])).toEqual([1700000000000, 'outbox-7']);
    for (const [what, cursor] of Object.entries(forgedCursors)) {
      expect(() => decodeCursor(cursor, ['timestamp', 'uuid']), what).toThrow('the cursor is not one this API returned');
      expect(() => decodeCursor(cursor, ['int']), what).toThrow('the cursor is not one this API returned');
    }
    expect(() => decodeCursor(encodeCursor([UUID, '2026-01-01T00:00:00.000Z']), ['timestamp', 'uuid'])).toThrow();
  });

  test('every list route of the OpenAPI document answers a forged cursor with 400 invalid_cursor', async ({ app, client, vendor, worker, admin, ops, finance, job }) => {
    const { operations } = operationsOf(app);
    const lists = operations.filter((op) => op.queryParams.some((p) => p.name === 'cursor'));
    expect(lists.length).toBeGreaterThanOrEqual(12);
    const actors = { client, vendor, worker, admin, ops, finance };
    const endpoint = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: 'https://example.com/hook', event_types: ['job.completed'] } });
    expect(endpoint.statusCode, endpoint.body).toBe(201);
    const pathValue: Record<string, string> = { '/v1/webhooks/{id}/deliveries': endpoint.json().id, '/v1/ops/queues/{name}/failed': 'task-dispatch', '/v1/finance/pay-runs/{id}/statements': '1' };
    let checked = 0;
    for (const op of lists) {
      const role = op.roles?.[0] ?? 'admin';
      const url = op.path.replace(/\{[^}]+\}/, pathValue[op.path] ?? job.id);
      for (const [what, cursor] of Object.entries(forgedCursors)) {
        const res = await app.inject({ method: 'GET', url: `${url}?cursor=${encodeURIComponent(cursor)}`, headers: actors[role as keyof typeof actors].auth });
        // A pay run that does not exist is a 404 before its cursor is read; every other list reads the cursor.
        if (op.path === '/v1/finance/pay-runs/{id}/statements') expect([400, 404], `${op.key} ${what}`).toContain(res.statusCode);
        else expectError(res, 400, 'invalid_cursor');
        checked++;
      }
    }
    expect(checked).toBe(lists.length * Object.keys(forgedCursors).length);
  });
});

describe('text that is not text', () => {
  test('scanners find NUL, unpaired surrogates and depth without recursion', () => {
    expect(jsonTooDeepAt('['.repeat(65) + ']'.repeat(65))).toBe(64);
    expect(jsonTooDeepAt('[' + '"[[[[[[[["'.repeat(100) + ']')).toBe(-1);
    expect(jsonTooDeepAt('['.repeat(64) + ']'.repeat(64))).toBe(-1);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnsafeJson(deep, 'body')?.code).toBe('json_too_deep');
    expect(findUnsafeJson({ a: [{ b: 'x\u0000' }] }, 'body')).toMatchObject({ code: 'invalid_text', path: 'body.a[0].b' });
    expect(findUnsafeJson({ 'we ird\ud800': 1 }, 'body')).toMatchObject({ code: 'invalid_text' });
    expect(findUnsafeJson({ ok: '😀 \ud83d\ude00' }, 'body')).toBeNull();
  });

  test('a NUL or an unpaired surrogate in a name, key, description, query or path is a 400 invalid_text naming the field', async ({ app, admin, client, vendor, worker }) => {
    const cases = [
      { method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: '{"name":"a\\u0000b","kind":"client"}', path: 'body.name' },
      { method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: '{"name":"\\ud800","kind":"client"}', path: 'body.name' },
      { method: 'POST', url: '/v1/organizations', headers: admin.auth, payload: '{"name":"x","kind":"client","\\u0000":1}', path: 'body["\\u0000"]' },
      { method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: '{"url":"https://example.com/","event_types":["job.completed"],"description":"x\\u0000"}', path: 'body.description' },
      { method: 'POST', url: '/v1/workers', headers: vendor.auth, payload: '{"display_name":"w\\u0000","region_country":"IN","city_tier":1,"area":"urban"}', path: 'body.display_name' },
      { method: 'PATCH', url: `/v1/workers/${worker.workerId}`, headers: vendor.auth, payload: '{"accommodations":{"note\\u0000":"x"}}', path: 'body.accommodations["note\\u0000"]' },
      { method: 'GET', url: '/v1/jobs?status=%00', headers: client.auth, payload: undefined, path: 'query.status' },
      { method: 'GET', url: '/v1/ops/queues/%00/failed', headers: admin.auth, payload: undefined, path: 'params.name' },
    ];
    for (const c of cases) {
      const res = await app.inject({ method: c.method as 'POST', url: c.url, headers: { ...c.headers, 'content-type': 'application/json' }, ...(c.payload ? { payload: c.payload } : {}) });
      const err = expectError(res, 400, 'invalid_text');
      expect(err.details[0]?.path, c.url).toBe(c.path);
    }
    // Nothing was written.
    const res = await app.inject({ method: 'GET', url: '/v1/organizations?limit=500', headers: admin.auth });
    expect(JSON.stringify(res.json())).not.toContain('\\u0000');
  });

  test('10,000 levels of nesting are a 400 json_too_deep before anything parses them', async ({ app, client, vendor, worker }) => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...client.auth, 'content-type': 'application/json' }, payload: deep }), 400, 'json_too_deep');
    const accommodations = `{"accommodations":{"x":${deep}}}`;
    expectError(await app.inject({ method: 'PATCH', url: `/v1/workers/${worker.workerId}`, headers: { ...vendor.auth, 'content-type': 'application/json' }, payload: accommodations }), 400, 'json_too_deep');
    // Within the limit is fine for the parser (the route's schema decides the rest).
    const shallow = '{"name":' + '['.repeat(60) + ']'.repeat(60) + ',"kind":"client"}';
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...client.auth, 'content-type': 'application/json' }, payload: shallow }), 400, 'validation_failed');
  });

  test('an answer nested 10,000 deep is a 400 json_too_deep', async ({ app, worker, job }) => {
    const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const payload = `{"answer":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)},"time_spent_ms":1000}`;
    const res = await app.inject({ method: 'POST', url: `/v1/assignments/${claimed.json().id}/submit`, headers: { ...worker.auth, 'content-type': 'application/json' }, payload });
    expectError(res, 400, 'json_too_deep');
    expect(job.tasks).toHaveLength(1);
  });
});

describe('imports: every error is a 4xx with its line', () => {
  test('bodies that are not what their Content-Type says, deep items and NULs', async ({ app, seed, client }) => {
    const job = await seed.job(client);
    const post = (payload: string, contentType: string, query = '') =>
      app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/tasks${query}`, headers: { ...client.auth, 'content-type': contentType }, payload });
    const truncated = expectError(await post('[{"data":{"text":"a"}},\n{"data":', 'application/json'), 400, 'malformed_body');
    expect(truncated.details[0]).toMatchObject({ line: 2 });
    const stray = expectError(await post('external_id,text\n1,ok\n2,a "stray" quote\n', 'text/csv'), 400, 'malformed_body');
    expect(stray.details[0]).toMatchObject({ line: 3 });
    const csvAsJson = expectError(await post('external_id,text\n1,a\n', 'text/csv', '?format=json'), 400, 'malformed_body');
    expect(csvAsJson.details[0]).toMatchObject({ line: 1 });
    // A single object is one item (as Label Studio accepts one task), not an error.
    expect((await post('{"data":{"text":"one"}}', 'application/json')).statusCode).toBe(200);

    const deepItem = `{"data":{"text":"ok"}}\n{"data":{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}}\n`;
    const deep = expectError(await post(deepItem, 'application/x-ndjson'), 422, 'import_rejected');
    expect(deep.details[0]).toMatchObject({ line: 2 });
    expect(String(deep.details[0]!.message)).toContain('json_too_deep');
    const nul = expectError(await post('text\nok\nbad\u0000\n', 'text/csv'), 422, 'import_rejected');
    expect(nul.details[0]).toMatchObject({ line: 3 });
    expect(String(nul.details[0]!.message)).toContain('invalid_text');
  });
});

describe('money', () => {
  test(`prices above MAX_PRICE_MINOR (${MAX_PRICE_MINOR}) are a 400; /me stays readable at the maximum`, async ({ app, seed, client, vendor }) => {
    const body = (price: number) => ({
      name: 'priced',
      task_type: 'classification',
      label_config: { choices: ['cat', 'dog'] },
      pay_per_annotation: price,
      client_price_per_item: price,
      currency: 'USD',
    });
    for (const price of [Number.MAX_SAFE_INTEGER, MAX_PRICE_MINOR + 1]) {
      const err = expectError(await app.inject({ method: 'POST', url: '/v1/jobs', headers: client.auth, payload: body(price) }), 400, 'validation_failed');
      expect(err.details.map((d) => d.path)).toEqual(expect.arrayContaining(['body.pay_per_annotation', 'body.client_price_per_item']));
    }
    const xml = '<View><Text name="t" value="$text"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>';
    const viaXml = await app.inject({
      method: 'POST',
      url: `/v1/jobs?name=x&pay_per_annotation=${Number.MAX_SAFE_INTEGER}&client_price_per_item=1&currency=USD`,
      headers: { ...client.auth, 'content-type': 'application/xml' },
      payload: xml,
    });
    expectError(viaXml, 400, 'validation_failed');

    const job = await seed.activeJob(1, { owner: client, pay_per_annotation: MAX_PRICE_MINOR, client_price_per_item: MAX_PRICE_MINOR });
    const worker = await seed.worker(vendor);
    const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: worker.auth });
    expect(claimed.statusCode, claimed.body).toBe(200);
    const submitted = await app.inject({ method: 'POST', url: `/v1/assignments/${claimed.json().id}/submit`, headers: worker.auth, payload: { answer: sampleAnswers.classification, time_spent_ms: 1000 } });
    expect(submitted.statusCode, submitted.body).toBe(200);
    const me = await app.inject({ method: 'GET', url: '/v1/me', headers: worker.auth });
    expect(me.statusCode, me.body).toBe(200);
    const progress = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: client.auth });
    expect(progress.statusCode, progress.body).toBe(200);
    expect(progress.json().cost).toMatchObject({ client_charges: '0', worker_pay: '0' });
  });
});
