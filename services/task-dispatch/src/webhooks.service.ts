import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { clientWebhookEventTypes, vendorWebhookEventTypes, type WebhookEventType } from '@fairlabel/contracts';
import { openSecret, sql, type Db, type Keyring, type OrganizationKind } from '@fairlabel/db';
import { WEBHOOK_DELIVERY_QUEUE, automaticJobId, defaultDeliverySchedule, deliveryJobOptions, type DeliverySchedule } from '@fairlabel/queues';
import type { Clock } from '@fairlabel/runtime';
import { fetch, type Dispatcher } from 'undici';
import { AddressNotAllowed, assertDeliverable, type WebhookAddressPolicy } from './webhook-address.js';
import { messageIdFor, signedHeaders } from './webhook-signing.js';

export { WEBHOOK_DELIVERY_QUEUE, defaultDeliverySchedule, deliveryJobOptions, automaticJobId, type DeliverySchedule };

/** The longest wait before the retry that follows failed attempt number `attempt` (1-based). */
export function maxRetryDelayMs(schedule: DeliverySchedule, attempt: number): number {
  return schedule.backoffDelayMs * 2 ** (attempt - 1);
}

export function createDeliveryQueue(redis: Redis, prefix: string): Queue {
  return new Queue(WEBHOOK_DELIVERY_QUEUE, { connection: redis, prefix });
}

export const manualJobId = (deliveryId: string, n: number) => `delivery-${deliveryId}-manual-${n}`;

/** Which event types an organization of this kind may subscribe to. */
export function allowedEventTypes(kind: OrganizationKind): readonly WebhookEventType[] {
  if (kind === 'client') return clientWebhookEventTypes;
  if (kind === 'vendor') return vendorWebhookEventTypes;
  return [];
}

// ---------------------------------------------------------------------------------------------
// Fan-out: one event -> one delivery row per subscribed endpoint

export interface FanOutEvent {
  type: WebhookEventType;
  /** The organization whose endpoints receive it (the job's client, the worker's vendor). */
  organizationId: string;
  /** Identifies the business event; a second fan-out of the same key creates nothing. */
  sourceKey: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** Whether any live endpoint of the organization listens for this event type (cheap pre-check). */
export async function hasSubscribers(db: Db, organizationId: string, type: WebhookEventType): Promise<boolean> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('deleted_at', 'is', null)
    .where(sql<boolean>`${type} = ANY(event_types)`)
    .limit(1)
    .executeTakeFirst();
  return Boolean(row);
}

/**
 * Inserts a delivery for every live endpoint subscribed to the event (the unique (endpoint, source)
 * key makes a repeated event a no-op), then returns every still-pending delivery of that event: also
 * those a crashed earlier attempt inserted but never enqueued, so the caller enqueues them now.
 */
export async function fanOut(db: Db, event: FanOutEvent): Promise<string[]> {
  const endpoints = await db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('organization_id', '=', event.organizationId)
    .where('deleted_at', 'is', null)
    .where(sql<boolean>`${event.type} = ANY(event_types)`)
    .execute();
  if (endpoints.length > 0) {
    const body = JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data });
    await db
      .insertInto('webhook_deliveries')
      .values(
        endpoints.map((e) => {
          const id = randomUUID();
          return { id, endpoint_id: e.id, organization_id: event.organizationId, event_type: event.type, source_key: event.sourceKey, message_id: messageIdFor(id), body };
        }),
      )
      .onConflict((oc) => oc.columns(['endpoint_id', 'source_key']).doNothing())
      .execute();
  }
  const pending = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('source_key', '=', event.sourceKey)
    .where('organization_id', '=', event.organizationId)
    .where('status', '=', 'pending')
    .execute();
  return pending.map((p) => p.id);
}

export async function enqueueDeliveries(queue: Queue, deliveryIds: string[], schedule: DeliverySchedule): Promise<void> {
  if (deliveryIds.length === 0) return;
  // A delivery's job id is derived from its id, so enqueueing it twice is one job.
  await queue.addBulk(deliveryIds.map((id) => ({ name: 'automatic', data: { delivery_id: id }, opts: { ...deliveryJobOptions(schedule), jobId: automaticJobId(id) } })));
}

// ---------------------------------------------------------------------------------------------
// One HTTP attempt

export interface AttemptOptions {
  trigger: 'automatic' | 'manual';
  /** For automatic attempts: the last one the schedule allows (a failure then fails the delivery). */
  isLastAttempt: boolean;
  /** For automatic attempts that may fail: the longest wait before the next one. */
  nextRetryDelayMs: number | null;
  timeoutMs: number;
  /** Where deliveries may go (SSRF) and the agent whose connections are checked by it. */
  outbound: { policy: WebhookAddressPolicy; agent: Dispatcher };
  /** Opens the endpoint's sealed signing secrets. */
  keyring: Keyring;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'skipped';

const RESPONSE_BODY_LIMIT = 1024;

/** The first KiB of a response body; the rest is not read (a receiver may answer with anything). */
async function readHead(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
}

/**
 * Sends one delivery once and records the attempt. 2xx is success; anything else, a timeout or a
 * network error is a failure. Redirects are not followed: a receiver that moved must be re-registered.
 */
export async function attemptDelivery(db: Db, clock: Clock, deliveryId: string, opts: AttemptOptions): Promise<AttemptOutcome> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select(['d.id', 'd.endpoint_id', 'd.status', 'd.message_id', 'd.body', 'e.url', 'e.secret', 'e.previous_secret', 'e.previous_secret_expires_at', 'e.deleted_at'])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  if (!row) return 'skipped';
  if (row.deleted_at) {
    await db.updateTable('webhook_deliveries').set({ status: 'cancelled', next_attempt_at: null }).where('id', '=', deliveryId).where('status', '=', 'pending').execute();
    return 'skipped';
  }
  // A manual redelivery may have succeeded while automatic retries were still scheduled.
  if (opts.trigger === 'automatic' && row.status !== 'pending') return 'skipped';

  const now = clock.now();
  const secrets = [openSecret(opts.keyring, row.secret, row.endpoint_id)];
  if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at > now) secrets.push(openSecret(opts.keyring, row.previous_secret, row.endpoint_id));
  const headers = signedHeaders(secrets, row.message_id, now, row.body);

  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  let responseBody: string | null = null;
  try {
    // An IP literal is checked here; a name, by the agent's lookup on the address it connects to.
    assertDeliverable(opts.outbound.policy, row.url);
    const res = await fetch(row.url, {
      dispatcher: opts.outbound.agent,
      method: 'POST',
      body: row.body,
      headers: { 'content-type': 'application/json', 'user-agent': 'fairlabel-webhooks/1.0', ...headers },
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    statusCode = res.status;
    responseBody = await readHead(res);
    if (res.status < 200 || res.status >= 300) error = `receiver answered HTTP ${res.status}`;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (err instanceof AddressNotAllowed) error = err.message;
    else if (e.cause instanceof AddressNotAllowed) error = e.cause.message;
    else error = e.name === 'TimeoutError' ? `no response within ${opts.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
  }
  const durationMs = Math.max(0, Math.round(performance.now() - started));
  const succeeded = error === null;

  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_delivery_attempts')
      .values({ delivery_id: deliveryId, trigger: opts.trigger, status_code: statusCode, error, response_body: responseBody, duration_ms: durationMs, attempted_at: now })
      .execute();
    let update = trx.updateTable('webhook_deliveries').set({ attempt_count: sql<number>`attempt_count + 1`, last_attempt_at: now }).where('id', '=', deliveryId);
    if (succeeded) {
      update = update.set({ status: 'succeeded', delivered_at: sql<Date>`coalesce(delivered_at, ${now})`, next_attempt_at: null });
    } else if (opts.trigger === 'automatic') {
      update = opts.isLastAttempt
        ? update.set({ status: sql`CASE WHEN status = 'pending' THEN 'failed' ELSE status END`, next_attempt_at: null })
        : update.set({ next_attempt_at: new Date(now.getTime() + (opts.nextRetryDelayMs ?? 0)) });
    }
    await update.execute();
  });
  return succeeded ? 'succeeded' : 'failed';
}

// ---------------------------------------------------------------------------------------------
// Endpoint and delivery reads, scoped to the caller's organization

export const endpointColumns = ['id', 'url', 'description', 'event_types', 'created_at', 'updated_at', 'previous_secret_expires_at'] as const;

export async function findEndpoint(db: Db, organizationId: string, endpointId: string) {
  return db
    .selectFrom('webhook_endpoints')
    .select(endpointColumns)
    .where('id', '=', endpointId)
    .where('organization_id', '=', organizationId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

type DeliveryRow = {
  id: string;
  endpoint_id: string;
  event_type: string;
  message_id: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
  attempt_count: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
  body: string;
};

export const deliveryColumns = [
  'id',
  'endpoint_id',
  'event_type',
  'message_id',
  'status',
  'attempt_count',
  'next_attempt_at',
  'last_attempt_at',
  'delivered_at',
  'created_at',
  'body',
] as const;

/** Delivery rows as the API shows them, each with all of its attempts (one query for the page). */
export async function withAttempts(db: Db, rows: DeliveryRow[]) {
  const attempts = rows.length
    ? await db
        .selectFrom('webhook_delivery_attempts')
        .select(['delivery_id', 'trigger', 'status_code', 'error', 'response_body', 'duration_ms', 'attempted_at'])
        .where('delivery_id', 'in', rows.map((r) => r.id))
        .orderBy('id')
        .execute()
    : [];
  return rows.map(({ body, ...r }) => ({
    ...r,
    payload: JSON.parse(body) as unknown,
    attempts: attempts.filter((a) => a.delivery_id === r.id).map(({ delivery_id: _, ...a }) => a),
  }));
}
