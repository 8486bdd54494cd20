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
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { keyringFrom } from '@fairlabel/db';
import { webhookAddressPolicy } from './webhook-address.js';
import { createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, redeliver, rotateSecret } from './webhook-endpoints.service.js';
import { createDeliveryQueue } from './webhooks.service.js';

const roles = ['client', 'vendor'] as const;
const tags = ['webhooks'];
const errors = errorResponses(409, 422);

export const webhookRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, clock } = app.deps;
  const addressPolicy = webhookAddressPolicy(app.deps.config.WEBHOOK_ALLOW_PRIVATE_CIDRS);
  // Built at start, so an API without SECRETS_ENCRYPTION_KEY fails to start instead of failing its first registration.
  const keyring = keyringFrom(app.deps.config.SECRETS_ENCRYPTION_KEY, app.deps.config.SECRETS_ENCRYPTION_OLD_KEYS);
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
      return withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createEndpoint(db, caller, request.body, addressPolicy, keyring), secretFields: ['secret'] }));
    },
  );

  app.get(
    '/webhooks',
    {
      config: { roles },
      schema: { operationId: 'listWebhookEndpoints', tags, summary: "List the organization's webhook endpoints", querystring: pageQuerySchema, response: { 200: pageOf(webhookEndpointSchema), ...errors } },
    },
    async (request) => listEndpoints(db, callerOf(request).organizationId, request.query),
  );

  app.get(
    '/webhooks/:id',
    {
      config: { roles },
      schema: { operationId: 'getWebhookEndpoint', tags, summary: 'A webhook endpoint', params: idParamsSchema, response: { 200: webhookEndpointSchema, ...errors } },
    },
    async (request) => getEndpoint(db, callerOf(request).organizationId, request.params.id),
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
      await deleteEndpoint(db, clock, callerOf(request).organizationId, request.params.id);
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
      return withIdempotency(request, reply, async () => ({
        statusCode: 200,
        body: await rotateSecret(db, clock, keyring, caller.organizationId, request.params.id, request.body.grace_period_seconds),
        secretFields: ['secret'],
      }));
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
    async (request) => listDeliveries(db, callerOf(request).organizationId, request.params.id, request.query),
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
      return withIdempotency(request, reply, async () => ({
        statusCode: 202,
        body: await redeliver({ db, deliveryQueue }, caller.organizationId, request.params.id, request.params.deliveryId),
      }));
    },
  );
};
