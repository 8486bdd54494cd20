import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { keyringFrom, sealSecret } from '@fairlabel/db';
import { expectError, integrationTest, type TestEnv } from '@fairlabel/testing';
import { taskDispatchRoutes } from '../src/index.js';
import { attemptDelivery } from '../src/webhooks.service.js';
import { checkedLookup, refusedRange, webhookAddressPolicy, webhookAgent, type WebhookAddressPolicy } from '../src/webhook-address.js';
import { generateWebhookSecret } from '../src/webhook-signing.js';

// This file's stack allows no private range at all, as production does by default.
const test = integrationTest({ app: [taskDispatchRoutes], config: { WEBHOOK_ALLOW_PRIVATE_CIDRS: '' } }).extend(
  'receiver',
  { scope: 'file' },
  async ({}, { onCleanup }) => {
    const received: { path: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      received.push({ path: req.url ?? '/', headers: req.headers });
      req.resume();
      if (req.url?.startsWith('/redirect')) res.writeHead(307, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/inside` }).end();
      else res.writeHead(200).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: (server.address() as AddressInfo).port, received, at: (path: string) => received.filter((r) => r.path === path) };
  },
);

/** The shapes issue 9 found accepted (and delivered to), plus their relatives: each must be refused. */
const internalUrls: [string, string][] = [
  ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'linkLocal'],
  ['http://127.0.0.1:6379/', 'loopback'],
  ['http://localhost:5432/', 'loopback'],
  ['http://127.0.0.1:3000/v1/organizations', 'loopback'],
  ['http://[::1]/', 'loopback'],
  ['http://[::ffff:127.0.0.1]/', 'loopback'],
  ['http://[::ffff:169.254.169.254]/', 'linkLocal'],
  ['http://2130706433/', 'loopback'],
  ['http://0x7f000001/', 'loopback'],
  ['http://127.1/', 'loopback'],
  ['http://0177.0.0.1/', 'loopback'],
  ['http://0.0.0.0/', 'unspecified'],
  ['http://0/', 'unspecified'],
  ['http://[::]/', 'unspecified'],
  ['http://10.1.2.3/', 'private'],
  ['http://172.16.0.1/', 'private'],
  ['http://172.31.255.255/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://100.64.0.1/', 'carrierGradeNat'],
  ['http://[fd00::1]/', 'uniqueLocal'],
  ['http://[fe80::1]/', 'linkLocal'],
  ['http://[64:ff9b::7f00:1]/', 'rfc6052'],
];

/** A policy whose DNS answers what the test says (DNS rebinding: public at registration, internal later). */
function rebinding(answers: Record<string, string[]>, allow = ''): WebhookAddressPolicy {
  return webhookAddressPolicy(allow, async (host) => (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
}

describe('SSRF: webhooks reach public addresses only', () => {
  test(`refuses the ${internalUrls.length} internal address shapes at registration with 422 url_not_public`, async ({ app, env, client }) => {
    expect(internalUrls).toHaveLength(22);
    for (const [url, range] of internalUrls) {
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url, event_types: ['job.completed'] } });
      const err = expectError(res, 422, 'url_not_public');
      expect(err.message, url).toContain(`a ${range} address`);
      expect(err.details[0]!.path).toBe('body.url');
    }
    // A public address literal is fine (no DNS involved).
    const ok = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: 'https://93.184.215.14/hook', event_types: ['job.completed'] } });
    expect(ok.statusCode, ok.body).toBe(201);
    const stored = await env.db.selectFrom('webhook_endpoints').select('url').where('organization_id', '=', client.organizationId).execute();
    expect(stored).toEqual([{ url: 'https://93.184.215.14/hook' }]);
  });

  test('junk URLs are a 400 bad_url', async ({ app, env, client }) => {
    for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'not a url', '/relative', 'http://user:pw@example.com/', 'http://example.com:0/', 'http://exa mple.com/']) {
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url, event_types: ['job.completed'] } });
      expect(expectError(res, 400, 'bad_url').details[0]!.path, url).toBe('body.url');
    }
    expectError(await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: '', event_types: ['job.completed'] } }), 400, 'validation_failed');
    expect(await env.db.selectFrom('webhook_endpoints').select('id').where('organization_id', '=', client.organizationId).execute()).toEqual([]);
  });

  test('the ranges: public unicast passes, the allow-list lets an operator reach a private range, nothing else', () => {
    const none = webhookAddressPolicy('');
    expect(refusedRange(none, '93.184.215.14')).toBeNull();
    expect(refusedRange(none, '2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBeNull();
    expect(refusedRange(none, '10.20.1.1')).toBe('private');
    const allowed = webhookAddressPolicy('10.20.0.0/16, fd00::/8');
    expect(refusedRange(allowed, '10.20.1.1')).toBeNull();
    expect(refusedRange(allowed, 'fd00::5')).toBeNull();
    expect(refusedRange(allowed, '10.21.0.1')).toBe('private');
    expect(refusedRange(allowed, '127.0.0.1')).toBe('loopback');
    expect(refusedRange(allowed, '::ffff:10.20.0.9')).toBeNull();
  });

  test('the delivery lookup refuses a name that now resolves inside, and pins the socket to what it checked', async () => {
    const lookup = checkedLookup(rebinding({ 'hooks.example': ['93.184.215.14'], 'rebound.example': ['93.184.215.14', '127.0.0.1'] }));
    const call = (host: string, all: boolean) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) => lookup(host, { all }, (err, address) => resolve({ err, address })));
    expect(await call('hooks.example', false)).toEqual({ err: null, address: '93.184.215.14' });
    expect(await call('hooks.example', true)).toEqual({ err: null, address: [{ address: '93.184.215.14', family: 4 }] });
    const rebound = await call('rebound.example', true);
    expect(rebound.err?.code).toBe('EADDRNOTALLOWED');
    expect((await call('nowhere.example', false)).err?.code).toBe('ENOTFOUND');
  });

  test('a delivery re-checks at connect time: DNS rebinding to loopback is refused and recorded, allowed ranges are reached at the checked address', async ({ env, client, receiver }) => {
    const registered = rebinding({ 'hooks.example': ['93.184.215.14'] });
    const rebound = rebinding({ 'hooks.example': ['127.0.0.1'] });
    const reachable = rebinding({ 'hooks.example': ['127.0.0.1'] }, '127.0.0.0/8');
    const url = `http://hooks.example:${receiver.port}/rebind`;
    const deliveryId = await newDelivery(env, client.organizationId, url);

    const attempt = (policy: WebhookAddressPolicy) => deliverOnce(env, deliveryId, policy);
    expect(registered.allow).toEqual([]);
    expect(await attempt(rebound)).toBe('failed');
    expect(receiver.at('/rebind')).toEqual([]);
    // With the range allowed, the same name reaches the receiver: the socket used the address the lookup checked
    // (hooks.example does not exist in real DNS).
    expect(await attempt(reachable)).toBe('succeeded');
    expect(receiver.at('/rebind')).toHaveLength(1);
    const attempts = await env.db.selectFrom('webhook_delivery_attempts').select(['status_code', 'error']).where('delivery_id', '=', deliveryId).orderBy('id').execute();
    expect(attempts).toEqual([
      { status_code: null, error: '127.0.0.1 is a loopback address; webhooks reach public addresses only' },
      { status_code: 200, error: null },
    ]);
  });

  test('a stored URL whose literal address is not allowed (registered under an older allow-list) is refused at delivery', async ({ env, client, receiver }) => {
    const deliveryId = await newDelivery(env, client.organizationId, `http://127.0.0.1:${receiver.port}/literal`);
    expect(await deliverOnce(env, deliveryId, webhookAddressPolicy(''))).toBe('failed');
    expect(receiver.at('/literal')).toEqual([]);
    const [a] = await env.db.selectFrom('webhook_delivery_attempts').select(['status_code', 'error']).where('delivery_id', '=', deliveryId).execute();
    expect(a).toEqual({ status_code: null, error: '127.0.0.1 is a loopback address; webhooks reach public addresses only' });
  });

  test('redirects are not followed: a receiver cannot bounce a delivery inside', async ({ env, client, receiver }) => {
    const deliveryId = await newDelivery(env, client.organizationId, `http://hooks.example:${receiver.port}/redirect`);
    expect(await deliverOnce(env, deliveryId, rebinding({ 'hooks.example': ['127.0.0.1'] }, '127.0.0.1/32'))).toBe('failed');
    expect(receiver.at('/redirect')).toHaveLength(1);
    expect(receiver.at('/inside')).toEqual([]);
    const [a] = await env.db.selectFrom('webhook_delivery_attempts').select(['status_code', 'error']).where('delivery_id', '=', deliveryId).execute();
    expect(a).toEqual({ status_code: 307, error: 'receiver answered HTTP 307' });
  });
});

const keyringOf = (env: TestEnv) => keyringFrom(env.config.SECRETS_ENCRYPTION_KEY, env.config.SECRETS_ENCRYPTION_OLD_KEYS);

/** One manual attempt of a delivery under `policy`, as the delivery worker makes it. */
async function deliverOnce(env: TestEnv, deliveryId: string, policy: WebhookAddressPolicy) {
  const agent = webhookAgent(policy);
  try {
    return await attemptDelivery(env.db, env.clock, deliveryId, { trigger: 'manual', isLastAttempt: false, nextRetryDelayMs: null, timeoutMs: 2000, outbound: { policy, agent }, keyring: keyringOf(env) });
  } finally {
    await agent.close();
  }
}

/** An endpoint row (as registration would have stored it, secret sealed) with one pending delivery. */
async function newDelivery(env: TestEnv, organizationId: string, url: string): Promise<string> {
  const id = randomUUID();
  const endpoint = await env.db
    .insertInto('webhook_endpoints')
    .values({ id, organization_id: organizationId, url, event_types: ['job.completed'], secret: sealSecret(keyringOf(env), generateWebhookSecret(), id) })
    .returning('id')
    .executeTakeFirstOrThrow();
  const delivery = await env.db
    .insertInto('webhook_deliveries')
    .values({ endpoint_id: endpoint.id, organization_id: organizationId, event_type: 'job.completed', source_key: `job.completed:${url}`, message_id: `msg_${endpoint.id}`, body: '{}', next_attempt_at: null, last_attempt_at: null, delivered_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return delivery.id;
}
