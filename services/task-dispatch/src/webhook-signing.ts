import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new endpoint secret: `whsec_` and 32 random bytes in base64, the form Standard Webhooks libraries read. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The `webhook-id` of a delivery: one per endpoint and event, repeated on every attempt. */
export function messageIdFor(deliveryId: string): string {
  return `msg_${deliveryId.replace(/-/g, '')}`;
}

/**
 * The three Standard Webhooks headers of one attempt. Each valid secret contributes one `v1,<sig>`
 * (space-separated), so receivers holding either the old or the new secret verify the message while
 * a rotation's grace period lasts.
 */
export function signedHeaders(secrets: string[], messageId: string, timestamp: Date, body: string): Record<string, string> {
  if (secrets.length === 0) throw new Error('at least one secret is needed to sign a webhook');
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, timestamp, body)).join(' '),
  };
}
