import { z } from 'zod';
import {
  createWebhookBody,
  createdWebhookEndpointSchema,
  errorResponses,
  idParamsSchema,
  pageOf,
  pageQuerySchema,
  rotateSecretBody,
  rotatedSecretSchema,
  webhookDeliveriesQuery,
  webhookDeliveryParams,
  webhookDeliverySchema,
  webhookEndpointSchema,
} from '@fairlabel/contracts';
import { sql } from '@fairlabel/db';
import { callerOf, decodeCursor, notFound, pageResult, unprocessable, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { generateWebhookSecret } from './webhook-signing.js';
import {
  allowedEventTypes,
  createDeliveryQueue,
  deliveryColumns,
  endpointColumns,
  findEndpoint,
  manualJobId,
  withAttempts,
} from './webhooks.service.js';

const roles = ['client', 'vendor'] as const;
const tags = ['webhooks'];
const errors = errorResponses(409, 422);

export const webhookRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, clock } = app.deps;
  const deliveryQueue = createDeliveryQueue(app.deps.redis, app.deps.prefix);
  app.addHook('onClose', async () => {
    await deliveryQueue.close();
  });

  app.post(
    '/webhooks',
    {
      config: { roles },
      schema: {
        operationId: 'createWebhookEndpoint',
        tags,
        summary: 'Register a webhook endpoint',
        description:
          'Deliveries follow the Standard Webhooks specification (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`); verify them with the `secret` returned here, once. ' +
          'Failed deliveries are retried with exponential backoff for about 24 hours. Supports `Idempotency-Key`.',
        body: createWebhookBody,
        response: { 201: createdWebhookEndpointSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const allowed = allowedEventTypes(caller.organizationKind);
      const refused = request.body.event_types.filter((t) => !allowed.includes(t));
      if (refused.length) {
        throw unprocessable(
          'event_type_not_allowed',
          `a ${caller.organizationKind} organization may subscribe to ${allowed.join(', ') || 'no events'}`,
          refused.map((t) => ({ path: `body.event_types`, message: `${t} is not available to ${caller.organizationKind} organizations` })),
        );
      }
      return withIdempotency(request, reply, async () => {
        const secret = generateWebhookSecret();
        const row = await db
          .insertInto('webhook_endpoints')
          .values({
            organization_id: caller.organizationId,
            url: request.body.url,
            description: request.body.description,
            event_types: [...new Set(request.body.event_types)],
            secret,
          })
          .returning([...endpointColumns, 'secret'])
          .executeTakeFirstOrThrow();
        return { statusCode: 201, body: row };
      });
    },
  );

  app.get(
    '/webhooks',
    {
      config: { roles },
      schema: { operationId: 'listWebhookEndpoints', tags, summary: "List the organization's webhook endpoints", querystring: pageQuerySchema, response: { 200: pageOf(webhookEndpointSchema), ...errors } },
    },
    async (request) => {
      const caller = callerOf(request);
      const { cursor, limit } = request.query;
      let q = db
        .selectFrom('webhook_endpoints')
        .select(endpointColumns)
        .where('organization_id', '=', caller.organizationId)
        .where('deleted_at', 'is', null);
      if (cursor) {
        const [createdAt, id] = decodeCursor(cursor, 2);
        q = q.where(sql<boolean>`(created_at, id) > (${String(createdAt)}::timestamptz, ${String(id)}::uuid)`);
      }
      const rows = await q.orderBy('created_at').orderBy('id').limit(limit + 1).execute();
      return pageResult(rows, limit, (r) => [r.created_at, r.id]);
    },
  );

  app.get(
    '/webhooks/:id',
    {
      config: { roles },
      schema: { operationId: 'getWebhookEndpoint', tags, summary: 'A webhook endpoint', params: idParamsSchema, response: { 200: webhookEndpointSchema, ...errors } },
    },
    async (request) => {
      const endpoint = await findEndpoint(db, callerOf(request).organizationId, request.params.id);
      if (!endpoint) throw notFound('webhook endpoint');
      return endpoint;
    },
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { roles },
      schema: {
        operationId: 'deleteWebhookEndpoint',
        tags,
        summary: 'Delete a webhook endpoint',
        description: 'Stops deliveries to it at once (pending retries are cancelled).',
        params: idParamsSchema,
        response: { 204: z.null().describe('Deleted'), ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const deleted = await trx
          .updateTable('webhook_endpoints')
          .set({ deleted_at: now, updated_at: now })
          .where('id', '=', request.params.id)
          .where('organization_id', '=', caller.organizationId)
          .where('deleted_at', 'is', null)
          .returning('id')
          .executeTakeFirst();
        if (!deleted) throw notFound('webhook endpoint');
        await trx.updateTable('webhook_deliveries').set({ status: 'cancelled', next_attempt_at: null }).where('endpoint_id', '=', deleted.id).where('status', '=', 'pending').execute();
      });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      config: { roles },
      schema: {
        operationId: 'rotateWebhookSecret',
        tags,
        summary: "Rotate an endpoint's signing secret",
        description:
          'Returns the new secret once. For `grace_period_seconds` deliveries carry two signatures (new and old secret), so receivers can switch without dropping messages. Supports `Idempotency-Key`.',
        params: idParamsSchema,
        body: rotateSecretBody.default({ grace_period_seconds: 24 * 3600 }),
        response: { 200: rotatedSecretSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return withIdempotency(request, reply, async () => {
        const now = clock.now();
        const grace = request.body.grace_period_seconds;
        const secret = generateWebhookSecret();
        const row = await db
          .updateTable('webhook_endpoints')
          .set({
            secret,
            previous_secret: grace > 0 ? sql<string>`secret` : null,
            previous_secret_expires_at: grace > 0 ? new Date(now.getTime() + grace * 1000) : null,
            updated_at: now,
          })
          .where('id', '=', request.params.id)
          .where('organization_id', '=', caller.organizationId)
          .where('deleted_at', 'is', null)
          .returning(['id', 'secret', 'previous_secret_expires_at'])
          .executeTakeFirst();
        if (!row) throw notFound('webhook endpoint');
        return { statusCode: 200, body: row };
      });
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { roles },
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: "An endpoint's deliveries, newest first, each with every attempt",
        params: idParamsSchema,
        querystring: webhookDeliveriesQuery,
        response: { 200: pageOf(webhookDeliverySchema), ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const endpoint = await findEndpoint(db, caller.organizationId, request.params.id);
      if (!endpoint) throw notFound('webhook endpoint');
      const { cursor, limit, status } = request.query;
      let q = db.selectFrom('webhook_deliveries').select(deliveryColumns).where('endpoint_id', '=', endpoint.id).where('organization_id', '=', caller.organizationId);
      if (status) q = q.where('status', '=', status);
      if (cursor) {
        const [createdAt, id] = decodeCursor(cursor, 2);
        q = q.where(sql<boolean>`(created_at, id) < (${String(createdAt)}::timestamptz, ${String(id)}::uuid)`);
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
      const page = pageResult(rows, limit, (r) => [r.created_at, r.id]);
      return { data: await withAttempts(db, page.data), next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      config: { roles },
      schema: {
        operationId: 'redeliverWebhook',
        tags,
        summary: 'Send a delivery again now',
        description:
          'Queues one more attempt with the same `webhook-id` and body (freshly signed). A success marks a failed delivery succeeded; scheduled automatic retries continue otherwise. Supports `Idempotency-Key`.',
        params: webhookDeliveryParams,
        response: { 202: webhookDeliverySchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return withIdempotency(request, reply, async () => {
        const endpoint = await findEndpoint(db, caller.organizationId, request.params.id);
        if (!endpoint) throw notFound('webhook endpoint');
        // The counter makes each manual redelivery its own BullMQ job, with an id derived from the row.
        const row = await db
          .updateTable('webhook_deliveries')
          .set({ manual_redeliveries: sql<number>`manual_redeliveries + 1` })
          .where('id', '=', request.params.deliveryId)
          .where('endpoint_id', '=', endpoint.id)
          .where('organization_id', '=', caller.organizationId)
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
        return { statusCode: 202, body: shown };
      });
    },
  );
};
