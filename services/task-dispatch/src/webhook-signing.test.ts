import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, messageIdFor, signedHeaders } from './webhook-signing.js';

describe('webhook signing', () => {
  const body = JSON.stringify({ type: 'task.decided', timestamp: '2026-11-27T12:00:00.000Z', data: { task_id: 1 } });

  it('produces the spec signature: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the decoded secret', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const now = new Date();
    const headers = signedHeaders([secret], 'msg_1', now, body);
    const ts = Math.floor(now.getTime() / 1000);
    const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`msg_1.${ts}.${body}`).digest('base64');
    expect(headers).toEqual({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${expected}` });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('signs with every secret of a rotation, so either secret verifies', () => {
    const [oldSecret, newSecret, otherSecret] = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];
    const headers = signedHeaders([newSecret, oldSecret], 'msg_2', new Date(), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(otherSecret).verify(body, headers)).toThrow(/No matching signature/);
  });

  it('derives a stable message id from the delivery id', () => {
    expect(messageIdFor('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('msg_0f8fad5bd9cb469fa16570867728950e');
  });
});
