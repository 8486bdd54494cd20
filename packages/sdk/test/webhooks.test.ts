import { describe, expect } from 'vitest';
import { unwrap, verifyWebhook, WebhookVerificationError } from '../src/index.js';
import { webhookTest as test } from './fixtures.js';

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
