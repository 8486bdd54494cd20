import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { z } from 'zod';
import type { createWebhookBody, webhookDeliveriesQuery } from '@fairlabel/contracts';
import { sealSecret, sql, type Db, type Keyring } from '@fairlabel/db';
import { decodeCursor, notFound, pageResult, unprocessable, type AuthContext } from '@fairlabel/http';
import type { Clock } from '@fairlabel/runtime';
import { checkWebhookUrl, type WebhookAddressPolicy } from './webhook-address.js';
import { generateWebhookSecret } from './webhook-signing.js';
import { allowedEventTypes, deliveryColumns, endpointColumns, findEndpoint, manualJobId, withAttempts } from './webhooks.service.js';

// What a client or vendor does with its webhook endpoints through the API. Every function takes the
// caller's organization and scopes its SQL to it: another organization's endpoint is not found.

/** Registers an endpoint for event types the caller's kind of organization may receive; its secret is returned once. */
export async function createEndpoint(db: Db, caller: AuthContext, body: z.output<typeof createWebhookBody>, policy: WebhookAddressPolicy, keyring: Keyring) {
  const allowed = allowedEventTypes(caller.organizationKind);
  const refused = body.event_types.filter((t) => !allowed.includes(t));
  if (refused.length) {
    throw unprocessable(
      'event_type_not_allowed',
      `a ${caller.organizationKind} organization may subscribe to ${allowed.join(', ') || 'no events'}`,
      refused.map((t) => ({ path: `body.event_types`, message: `${t} is not available to ${caller.organizationKind} organizations` })),
    );
  }
  const url = await checkWebhookUrl(policy, body.url);
  // The id is made here so the secret can be sealed to its row before the row exists.
  const id = randomUUID();
  const secret = generateWebhookSecret();
  const row = await db
    .insertInto('webhook_endpoints')
    .values({
      id,
      organization_id: caller.organizationId,
      url,
      description: body.description,
      event_types: [...new Set(body.event_types)],
      secret: sealSecret(keyring, secret, id),
    })
    .returning([...endpointColumns])
    .executeTakeFirstOrThrow();
  return { ...row, secret };
}

export async function listEndpoints(db: Db, organizationId: string, page: { cursor?: string | undefined; limit: number }) {
  let q = db.selectFrom('webhook_endpoints').select(endpointColumns).where('organization_id', '=', organizationId).where('deleted_at', 'is', null);
  if (page.cursor) {
    const [createdAt, id] = decodeCursor(page.cursor, ['timestamp', 'uuid']);
    q = q.where(sql<boolean>`(created_at, id) > (${String(createdAt)}::timestamptz, ${String(id)}::uuid)`);
  }
  const rows = await q.orderBy('created_at').orderBy('id').limit(page.limit + 1).execute();
  return pageResult(rows, page.limit, (r) => [r.created_at, r.id]);
}

export async function getEndpoint(db: Db, organizationId: string, endpointId: string) {
  const endpoint = await findEndpoint(db, organizationId, endpointId);
  if (!endpoint) throw notFound('webhook endpoint');
  return endpoint;
}

/**
 * Soft-deletes an endpoint and cancels its pending deliveries in one transaction, so no delivery
 * is left pending for an endpoint that no longer exists (the delivery worker also skips them).
 */
export async function deleteEndpoint(db: Db, clock: Clock, organizationId: string, endpointId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const now = clock.now();
    const deleted = await trx
      .updateTable('webhook_endpoints')
      .set({ deleted_at: now, updated_at: now })
      .where('id', '=', endpointId)
      .where('organization_id', '=', organizationId)
      .where('deleted_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!deleted) throw notFound('webhook endpoint');
    await trx.updateTable('webhook_deliveries').set({ status: 'cancelled', next_attempt_at: null }).where('endpoint_id', '=', deleted.id).where('status', '=', 'pending').execute();
  });
}

/** A new signing secret; for `graceSeconds` deliveries are signed with the old one as well. */
export async function rotateSecret(db: Db, clock: Clock, keyring: Keyring, organizationId: string, endpointId: string, graceSeconds: number) {
  const now = clock.now();
  const secret = generateWebhookSecret();
  const row = await db
    .updateTable('webhook_endpoints')
    .set({
      secret: sealSecret(keyring, secret, endpointId),
      // Already sealed to this row: moved as it is.
      previous_secret: graceSeconds > 0 ? sql<string>`secret` : null,
      previous_secret_expires_at: graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null,
      updated_at: now,
    })
    .where('id', '=', endpointId)
    .where('organization_id', '=', organizationId)
    .where('deleted_at', 'is', null)
    .returning(['id', 'previous_secret_expires_at'])
    .executeTakeFirst();
  if (!row) throw notFound('webhook endpoint');
  return { id: row.id, secret, previous_secret_expires_at: row.previous_secret_expires_at };
}

/** An endpoint's deliveries, newest first, each with all of its attempts. */
export async function listDeliveries(db: Db, organizationId: string, endpointId: string, query: z.output<typeof webhookDeliveriesQuery>) {
  const endpoint = await getEndpoint(db, organizationId, endpointId);
  const { cursor, limit, status } = query;
  let q = db.selectFrom('webhook_deliveries').select(deliveryColumns).where('endpoint_id', '=', endpoint.id).where('organization_id', '=', organizationId);
  if (status) q = q.where('status', '=', status);
  if (cursor) {
    const [createdAt, id] = decodeCursor(cursor, ['timestamp', 'uuid']);
    q = q.where(sql<boolean>`(created_at, id) < (${String(createdAt)}::timestamptz, ${String(id)}::uuid)`);
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = pageResult(rows, limit, (r) => [r.created_at, r.id]);
  return { data: await withAttempts(db, page.data), next_cursor: page.next_cursor };
}

/**
 * Queues one more attempt of a delivery now. The counter makes each manual redelivery its own
 * BullMQ job, with an id derived from the row, so a retried request does not send twice.
 */
export async function redeliver(deps: { db: Db; deliveryQueue: Queue }, organizationId: string, endpointId: string, deliveryId: string) {
  const { db, deliveryQueue } = deps;
  const endpoint = await getEndpoint(db, organizationId, endpointId);
  const row = await db
    .updateTable('webhook_deliveries')
    .set({ manual_redeliveries: sql<number>`manual_redeliveries + 1` })
    .where('id', '=', deliveryId)
    .where('endpoint_id', '=', endpoint.id)
    .where('organization_id', '=', organizationId)
    .returning([...deliveryColumns, 'manual_redeliveries'])
    .executeTakeFirst();
  if (!row) throw notFound('webhook delivery');
  await deliveryQueue.add(
    'manual',
    { delivery_id: row.id },
    { jobId: manualJobId(row.id, row.manual_redeliveries), attempts: 1, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 } },
  );
  const { manual_redeliveries: _, ...delivery } = row;
  const [shown] = await withAttempts(db, [delivery]);
  return shown!;
}
