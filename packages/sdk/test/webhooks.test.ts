import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { OutboxRelay } from '@fairlabel/queues';
import { startWebhookWorkers } from '@fairlabel/task-dispatch/webhooks';
import type { Actor } from '@fairlabel/testing';
import { unwrap, verifyWebhook, WebhookVerificationError, type Fairlabel } from '../src/index.js';
import { test as base } from './fixtures.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let pathSeq = 0;

/**
 * Real deliveries: an HTTP receiver, the outbox relay and task-dispatch's webhook workers for the file,
 * so what the tests verify is what the service signed and sent.
 */
const test = base
  .extend('receiver', { scope: 'file' }, async ({}, { onCleanup }) => {
    const received: Received[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, at: (path: string) => received.filter((r) => r.path === path) };
  })
  .extend('delivering', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
    await relay.start();
    const hooks = await startWebhookWorkers(env, { schedule: { attempts: 2, backoffDelayMs: 40, jitter: 0 }, timeoutMs: 2000, progressIntervalMs: 0 });
    onCleanup(async () => {
      await Promise.all(hooks.workers.map((w) => w.close()));
      await hooks.stop?.();
      await relay.stop();
    });
    return true;
  })
  /** Registers an endpoint for job.activated on a receiver path of its own, activates a new job of `client`, and waits for the delivery. */
  .extend('delivered', async ({ delivering, receiver, seed, sdk }) => async (client: Actor) => {
    expect(delivering).toBe(true);
    const fl: Fairlabel = sdk(client);
    const path = `/hook-${++pathSeq}`;
    const endpoint = await unwrap(fl.api.POST('/v1/webhooks', { body: { url: `${receiver.baseUrl}${path}`, event_types: ['job.activated'] } }));
    const job = await seed.job(client);
    await seed.tasks(job.id, 1);
    await unwrap(fl.api.POST('/v1/jobs/{id}/activate', { params: { path: { id: job.id } } }));
    await expect.poll(() => receiver.at(path).length, { timeout: 15_000 }).toBe(1);
    return { endpoint, job, path, message: receiver.at(path)[0]! };
  });

describe('webhook signatures', () => {
  test('a delivery task-dispatch signed verifies with the endpoint secret, and yields its payload', async ({ delivered, client }) => {
    const { endpoint, job, message } = await delivered(client);
    const verified = verifyWebhook<{ type: string; data: { job_id: string } }>({ secret: endpoint.secret, headers: message.headers, body: message.body });
    expect(verified.id).toBe(message.headers['webhook-id']);
    expect(verified.payload).toMatchObject({ type: 'job.activated', data: { job_id: job.id } });
    // The same with a fetch Headers object and a string body, as a web framework hands them over.
    const headers = new Headers(Object.entries(message.headers).map(([k, v]) => [k, String(v)]));
    expect(verifyWebhook({ secret: endpoint.secret, headers, body: message.body.toString('utf8') }).id).toBe(verified.id);
  });

  test('a changed body, another secret, an old timestamp or a missing header is refused', async ({ delivered, client }) => {
    const { endpoint, message } = await delivered(client);
    /** What verifying gives: the verified message, or the error it threw. */
    const refusal = (input: Parameters<typeof verifyWebhook>[0]): unknown => {
      try {
        return verifyWebhook(input);
      } catch (error) {
        return error;
      }
    };
    const tampered = Buffer.from(message.body.toString('utf8').replace('job.activated', 'job.completed'));
    expect(refusal({ secret: endpoint.secret, headers: message.headers, body: tampered })).toMatchObject({ reason: 'bad_signature' });
    const other = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(refusal({ secret: other, headers: message.headers, body: message.body })).toMatchObject({ reason: 'bad_signature' });
    const sent = Number(message.headers['webhook-timestamp']) * 1000;
    expect(refusal({ secret: endpoint.secret, headers: message.headers, body: message.body, now: new Date(sent + 6 * 60_000) })).toMatchObject({ reason: 'stale_timestamp' });
    const { 'webhook-signature': _, ...unsigned } = message.headers;
    const missing = refusal({ secret: endpoint.secret, headers: unsigned, body: message.body });
    expect(missing).toBeInstanceOf(WebhookVerificationError);
    expect(missing).toMatchObject({ reason: 'missing_headers' });
    // Either of two secrets (the old and the new around a rotation) is enough.
    expect(refusal({ secret: [other, endpoint.secret], headers: message.headers, body: message.body })).toMatchObject({ id: message.headers['webhook-id'] });
  });

  test('a redelivery arrives again with the same webhook-id and verifies', async ({ delivered, client, sdk, receiver }) => {
    const { endpoint, path, message } = await delivered(client);
    const fl = sdk(client);
    const deliveries: string[] = [];
    for await (const d of fl.paginate('/v1/webhooks/{id}/deliveries', { path: { id: endpoint.id } })) deliveries.push(d.id);
    expect(deliveries).toHaveLength(1);
    const again = await unwrap(fl.api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', { params: { path: { id: endpoint.id, deliveryId: deliveries[0]! } } }));
    expect(again.message_id).toBe(message.headers['webhook-id']);
    await expect.poll(() => receiver.at(path).length, { timeout: 15_000 }).toBe(2);
    const second = receiver.at(path)[1]!;
    expect(verifyWebhook({ secret: endpoint.secret, headers: second.headers, body: second.body }).id).toBe(message.headers['webhook-id']);
  });
});
