import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook deliveries follow the Standard Webhooks specification, as task-dispatch signs them
 * (services/task-dispatch/src/webhook-signing.ts): headers `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>` — one per
 * secret valid at sending time, so during a rotation's grace period both the old and the new secret
 * verify — over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed by the base64 bytes after `whsec_`.
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    /** `missing_headers`, `stale_timestamp`, `bad_signature` or `bad_secret`. */
    readonly reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' | 'bad_secret',
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedWebhook<T = unknown> {
  /** `webhook-id`: the same on every attempt of one delivery; deduplicate on it. */
  id: string;
  timestamp: Date;
  /** The parsed JSON body: `{ type, created_at, data }`. */
  payload: T;
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

function keyOf(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('bad_secret', 'the webhook secret is empty or not base64 (expected whsec_…)');
  return key;
}

/**
 * Checks a delivery's signature against the endpoint's secret (or several, e.g. the old and the new
 * around a rotation) and its timestamp against the clock (default tolerance 5 minutes, both ways, which
 * keeps a captured delivery from being replayed later). `body` must be the raw bytes as received, before
 * any JSON parsing. Returns the parsed payload; throws WebhookVerificationError otherwise.
 */
export function verifyWebhook<T = unknown>(input: {
  secret: string | string[];
  headers: WebhookHeaders;
  body: string | Uint8Array;
  toleranceSeconds?: number;
  now?: Date;
}): VerifiedWebhook<T> {
  const id = header(input.headers, 'webhook-id');
  const timestamp = header(input.headers, 'webhook-timestamp');
  const signatures = header(input.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are all required');
  const seconds = Number(timestamp);
  const now = (input.now ?? new Date()).getTime() / 1000;
  const tolerance = input.toleranceSeconds ?? 300;
  if (!/^\d+$/.test(timestamp) || Math.abs(now - seconds) > tolerance) {
    throw new WebhookVerificationError('stale_timestamp', `webhook-timestamp ${timestamp} is more than ${tolerance} s from now`);
  }
  const body = typeof input.body === 'string' ? Buffer.from(input.body) : Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  const given = signatures
    .split(' ')
    .map((s) => s.split(','))
    .filter(([version, value]) => version === 'v1' && value)
    .map(([, value]) => Buffer.from(value!, 'base64'));
  const secrets = Array.isArray(input.secret) ? input.secret : [input.secret];
  const ok = secrets.some((secret) => {
    const expected = createHmac('sha256', keyOf(secret)).update(signed).digest();
    return given.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
  });
  if (!ok) throw new WebhookVerificationError('bad_signature', 'no webhook-signature matches the secret: wrong secret, or the body was changed');
  return { id, timestamp: new Date(seconds * 1000), payload: JSON.parse(body.toString('utf8')) as T };
}
