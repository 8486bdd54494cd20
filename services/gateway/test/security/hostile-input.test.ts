/**
 * Hostile input over every operation of the OpenAPI document the gateway generates: wrong types,
 * boundary and huge numbers, huge and deeply nested values, NUL and unpaired surrogates in values and
 * keys, invalid UTF-8 bytes, forged cursors, wrong and missing content types, raw bodies (CSV with a
 * stray quote, truncated JSON, 10,000 levels of nesting). Requests are drawn by fast-check, sent as a
 * caller the route allows (so they get past auth and reach validation and handlers), and every answer
 * must be below 500, in the one error shape when it is an error, with the process's memory bounded.
 *
 * `HOSTILE_RUNS` (default 1,500 requests, ~20 s) and `HOSTILE_SEED` choose the size and the draw:
 * `HOSTILE_RUNS=30000 pnpm vitest run services/gateway/test/security/hostile-input.test.ts` is the big run.
 */
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { integrationTest, newApiKey, type Actor } from '@fairlabel/testing';
import type { ApiKeyRole } from '@fairlabel/contracts';
import { buildGateway } from '../../src/app.js';
import { operationsOf, sampleOf, type IdPool, type Operation } from './openapi-walk.js';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 1500);
const SEED = Number(process.env.HOSTILE_SEED ?? 20261129);
/** Growth of the process's resident memory the run may cause (a leak or an unbounded buffer shows far above). */
const MEMORY_BOUND_MB = 512;

const test = integrationTest({
  app: buildGateway,
  // No rate limit in the way of 1,500 requests from one key and one IP; limits have their own tests.
  config: { RATE_LIMIT_MAX: 1_000_000, RATE_LIMIT_IP_MAX: 1_000_000 },
});

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const cursors = [
  b64(['not-a-date', '00000000-0000-4000-8000-000000000000']),
  b64(['infinity', '00000000-0000-4000-8000-000000000000']),
  b64(['2026-02-30T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
  b64(['2026-01-01T00:00:00.000Z', 'not-a-uuid']),
  b64([1, 2]),
  b64(['\u0000', '\u0000']),
  b64([1e308]),
  b64([-1]),
  b64(['1']),
  b64([9007199254740993]),
  b64({ a: 1 }),
  b64('[' .repeat(5000)),
  b64([]),
  b64([null, null]),
  b64([1, 'outbox-1\u0000']),
  'garbage',
  '%00',
  'x'.repeat(600),
];

const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

const hostileStrings = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', 'infinity', '-infinity', 'NaN', '2026-02-30', '2026-02-30T00:00:00Z', '-1', '0', '1.5', '1e309',
  '9'.repeat(40), "' OR 1=1 --", '../../etc/passwd', '<x/>', '😀', 'x'.repeat(5000), 'null', '[1,2]', '{"a":1}', 'true', 'http://169.254.169.254/latest/meta-data/',
  'http://127.0.0.1:6379/', 'http://[::1]/', 'http://2130706433/', 'javascript:alert(1)', 'http://', 'https://exa mple.com', 'ftp://example.com/x',
];
const hostileNumbers = [-1, 0, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 9007199254740991, 10_000_000_001, 1e308, -1e308, 0.5, -0, 1e-300];
const hostileValues: unknown[] = [null, true, [], {}, [1, 2], { '\u0000': 1 }, { '\ud800': 'x' }, nested(100), nested(3000), Array.from({ length: 20_000 }, (_, i) => i)];
/** Path and query values as they appear on the wire: invalid UTF-8 and broken escapes included. */
const rawEncoded = ['%00', '%ED%A0%80', '%FF%FE', '%', '%zz', '%C0%AF', encodeURIComponent('x'.repeat(300)), '-1', '0', '9'.repeat(30), 'null', '%2e%2e%2f'];

type RawBody = { contentType: string | undefined; payload: string | Buffer };
const deepJson = (n: number) => '['.repeat(n) + ']'.repeat(n);
const rawBodies: RawBody[] = [
  { contentType: 'application/json', payload: deepJson(10_000) },
  { contentType: 'application/json', payload: `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}` },
  { contentType: 'application/json', payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0x22, 0x7d]) },
  { contentType: 'application/json', payload: '{"name":"a\\u0000b","kind":"client"}' },
  { contentType: 'application/json', payload: '{"\\u0000":1}' },
  { contentType: 'application/json', payload: '{"name":"\\ud800","kind":"client"}' },
  { contentType: 'application/json', payload: '{"a":' },
  { contentType: 'application/json', payload: '[{"data":{"text":"x"}},' },
  { contentType: 'application/json', payload: '{"data":{"text":"x"}}' },
  { contentType: 'application/json', payload: 'external_id,text\n1,"x\n' },
  { contentType: 'application/json', payload: '"a string"' },
  { contentType: 'application/json', payload: '12345678901234567890123' },
  { contentType: 'application/json', payload: '' },
  { contentType: 'application/json', payload: '{"__proto__":{"x":1}}' },
  { contentType: 'application/json; charset=utf-16', payload: '{}' },
  { contentType: 'text/csv', payload: 'external_id,text\n1,a "stray" quote\n2,"unterminated\n' },
  { contentType: 'text/csv', payload: 'text\n\u0000\n' },
  { contentType: 'text/csv', payload: '' },
  { contentType: 'application/x-ndjson', payload: '{"data":{"text":"x"}}\n{"data":' },
  { contentType: 'application/x-ndjson', payload: `${deepJson(10_000)}\n` },
  { contentType: 'application/xml', payload: '<View><Choices name="a\u0000" toName="t"><Choice value="x"/></Choices><Text name="t" value="$text"/></View>' },
  { contentType: 'application/xml', payload: '<View><' },
  { contentType: 'text/plain', payload: 'hello' },
  { contentType: 'multipart/form-data; boundary=x', payload: '--x--' },
  { contentType: 'application/x-www-form-urlencoded', payload: 'a=%00' },
  { contentType: undefined, payload: '{}' },
];

type Mutation =
  | { kind: 'valid' }
  | { kind: 'path'; index: number; raw: string }
  | { kind: 'query'; name: string; raw: string }
  | { kind: 'cursor'; cursor: string }
  | { kind: 'field'; field: string | null; value: unknown }
  | { kind: 'body'; value: unknown }
  | { kind: 'raw'; body: RawBody };

interface Drawn {
  op: Operation;
  role: ApiKeyRole | 'anonymous';
  mutation: Mutation;
}

function arbitraryRequest(operations: Operation[]): fc.Arbitrary<Drawn> {
  const hostileValue = fc.oneof(
    fc.constantFrom(...hostileStrings),
    fc.constantFrom(...hostileNumbers),
    fc.constantFrom(...hostileValues),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer(),
    fc.double(),
    fc.jsonValue({ maxDepth: 4 }),
  );
  const allRoles: ApiKeyRole[] = ['admin', 'client', 'vendor', 'worker', 'ops', 'finance'];
  return fc.constantFrom(...operations).chain((op) => {
    const roles = op.public ? (['anonymous'] as const) : (op.roles ?? allRoles);
    const mutations: fc.Arbitrary<Mutation>[] = [
      fc.constant({ kind: 'valid' as const }),
      fc.record({ kind: fc.constant('field' as const), field: fc.option(fc.constantFrom('name', 'data', 'url', 'label_config', 'answer', 'x', '\u0000'), { nil: null }), value: hostileValue }),
      fc.record({ kind: fc.constant('body' as const), value: hostileValue }),
      fc.record({ kind: fc.constant('raw' as const), body: fc.constantFrom(...rawBodies) }),
    ];
    if (op.pathParams.length) {
      mutations.push(fc.record({ kind: fc.constant('path' as const), index: fc.nat(op.pathParams.length - 1), raw: fc.constantFrom(...rawEncoded) }));
    }
    if (op.queryParams.length) {
      mutations.push(
        fc.record({
          kind: fc.constant('query' as const),
          name: fc.constantFrom(...op.queryParams.map((p) => p.name), 'unknown_param'),
          raw: fc.oneof(fc.constantFrom(...rawEncoded), fc.constantFrom(...hostileStrings).map(encodeURIComponentLoose)),
        }),
      );
    }
    if (op.queryParams.some((p) => p.name === 'cursor')) mutations.push(fc.record({ kind: fc.constant('cursor' as const), cursor: fc.constantFrom(...cursors) }));
    return fc.record({ op: fc.constant(op), role: fc.constantFrom<ApiKeyRole | 'anonymous'>(...roles), mutation: fc.oneof(...mutations) });
  });
}

/** encodeURIComponent that does not throw on an unpaired surrogate (it sends the raw UTF-16 unit as %ED%A0%80, as a hostile client would). */
function encodeURIComponentLoose(s: string): string {
  return [...s].map((ch) => {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) return `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
    return encodeURIComponent(ch);
  }).join('');
}

describe('hostile input: no 5xx for any request', () => {
  test('every operation of the OpenAPI document under drawn hostile requests', { timeout: 600_000 }, async ({ app, env, seed, client, vendor, worker, admin, ops, finance }) => {
    // Real rows, so that requests also get past "not found" into the handlers.
    const job = await seed.activeJob(3, { owner: client });
    const draft = await seed.job(client);
    const actors: Record<ApiKeyRole, Actor> = { client, vendor, worker, admin, ops, finance };
    // A spare key of the client's, for the key routes to revoke (revoking `client` would turn the rest of the run into 401s).
    const spare = await newApiKey(env.db, client.organizationId, 'client');
    const uuids = [job.id, draft.id, client.organizationId, vendor.organizationId, worker.workerId, spare.keyId, '00000000-0000-4000-8000-000000000000'];
    const ints = [...job.tasks.map((t) => String(t.id)), '1', '2'];
    let pick = 0;
    const ids: IdPool = { uuid: () => uuids[pick++ % uuids.length]!, int: () => ints[pick++ % ints.length]! };

    const { operations, doc } = operationsOf(app);
    const components = doc.components?.schemas ?? {};
    expect(operations.length).toBeGreaterThan(50);

    const drawn = fc.sample(arbitraryRequest(operations), { numRuns: RUNS, seed: SEED });
    const failures: string[] = [];
    const byStatus = new Map<number, number>();
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    const covered = new Set<string>();

    for (const { op, role, mutation } of drawn) {
      covered.add(op.key);
      const pathValues = op.pathParams.map((p) => {
        const s = (p.schema ?? {}) as Record<string, unknown>;
        if (p.name === 'name') return 'task-dispatch';
        if (s.format === 'uuid') return ids.uuid();
        return s.type === 'integer' || String(s.pattern ?? '').includes('0-9') ? ids.int() : 'x';
      });
      const query = new Map<string, string>();
      for (const p of op.queryParams) {
        if (!p.required) continue;
        query.set(p.name, encodeURIComponent(String(sampleOf(p.schema, components, ids))));
      }
      let payload: string | Buffer | undefined;
      let contentType: string | undefined;
      if (op.body) {
        payload = JSON.stringify(sampleOf(op.body, components, ids));
        contentType = 'application/json';
      }
      switch (mutation.kind) {
        case 'path':
          pathValues[mutation.index] = mutation.raw;
          break;
        case 'query':
          query.set(mutation.name, mutation.raw);
          break;
        case 'cursor':
          query.set('cursor', encodeURIComponent(mutation.cursor));
          break;
        case 'field': {
          const base = op.body ? (sampleOf(op.body, components, ids) as Record<string, unknown>) : {};
          const target = base !== null && typeof base === 'object' && !Array.isArray(base) ? base : {};
          const field = mutation.field ?? Object.keys(target)[0] ?? 'x';
          payload = JSON.stringify({ ...target, [field]: mutation.value });
          contentType = 'application/json';
          break;
        }
        case 'body':
          payload = JSON.stringify(mutation.value) ?? 'null';
          contentType = 'application/json';
          break;
        case 'raw':
          payload = mutation.body.payload;
          contentType = mutation.body.contentType;
          break;
      }
      let i = 0;
      const url = op.path.replace(/\{[^}]+\}/g, () => pathValues[i++]!) + (query.size ? `?${[...query].map(([k, v]) => `${k}=${v}`).join('&')}` : '');
      const headers: Record<string, string> = role === 'anonymous' ? {} : { ...actors[role].auth };
      if (contentType) headers['content-type'] = contentType;
      const res = await app.inject({ method: op.method as 'GET', url, headers, ...(payload !== undefined && op.method !== 'GET' ? { payload } : {}) });
      byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
      const describe = () => `${res.statusCode} ${op.method} ${url.slice(0, 200)} as ${role} (${mutation.kind}${mutation.kind === 'raw' ? ` ${mutation.body.contentType}` : ''}): ${res.body.slice(0, 200)}`;
      if (res.statusCode >= 500) failures.push(describe());
      else if (res.statusCode >= 400) {
        const body = (() => {
          try {
            return res.json() as { error?: { code?: unknown; message?: unknown; details?: unknown } };
          } catch {
            return {};
          }
        })();
        if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string' || !Array.isArray(body.error.details)) failures.push(`not the error shape: ${describe()}`);
      }
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }

    const fiveHundreds = [...byStatus].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    console.log(
      `hostile input: ${drawn.length} requests over ${covered.size} of ${operations.length} operations (seed ${SEED}); ` +
        `statuses ${[...byStatus].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(', ')}; 5xx: ${fiveHundreds}; ` +
        `RSS ${Math.round(rssStart / 2 ** 20)} → peak ${Math.round(rssPeak / 2 ** 20)} MB`,
    );
    expect(failures).toEqual([]);
    expect(fiveHundreds).toBe(0);
    expect((rssPeak - rssStart) / 2 ** 20).toBeLessThan(MEMORY_BOUND_MB);
  });
});
