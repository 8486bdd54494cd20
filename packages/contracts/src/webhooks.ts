import { z } from 'zod';
import { pageQuerySchema } from './common.js';

/**
 * Outbound webhooks. Deliveries follow the Standard Webhooks specification
 * (https://www.standardwebhooks.com): headers `webhook-id` (stable across retries), `webhook-timestamp`
 * (unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
 * keyed with the base64-decoded part of the `whsec_` secret; space-separated when several secrets
 * are valid during a rotation), so the `standardwebhooks` and `svix` libraries verify them.
 */

export const clientWebhookEventTypes = ['job.completed', 'job.progress', 'task.decided', 'job.activated', 'job.cancelled', 'tasks.imported'] as const;
export const vendorWebhookEventTypes = ['assignment.submitted', 'assignment.expired', 'assignment.released'] as const;
export const webhookEventTypeSchema = z.enum([...clientWebhookEventTypes, ...vendorWebhookEventTypes]);
export type WebhookEventType = z.infer<typeof webhookEventTypeSchema>;

/**
 * Checked by the webhook service, not here: junk is a 400 `bad_url`, and a host that is or resolves to
 * a loopback, private, link-local or metadata address is a 422 `url_not_public` (see README "Security").
 */
const httpUrl = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .describe('An absolute http:// or https:// URL of a public host (no credentials). Private addresses only where the operator allow-lists them (WEBHOOK_ALLOW_PRIVATE_CIDRS).');

export const createWebhookBody = z.strictObject({
  url: httpUrl,
  event_types: z
    .array(webhookEventTypeSchema)
    .min(1)
    .max(20)
    .describe('Clients: job.completed, job.progress, task.decided, job.activated, job.cancelled, tasks.imported. Vendors: assignment.submitted, assignment.expired, assignment.released (of their own workers).'),
  description: z.string().trim().max(500).default(''),
});

export const webhookEndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()),
    created_at: z.date(),
    updated_at: z.date(),
    previous_secret_expires_at: z.date().nullable().describe('While set and in the future, deliveries are also signed with the secret before the last rotation.'),
  })
  .meta({ id: 'WebhookEndpoint' });

export const createdWebhookEndpointSchema = webhookEndpointSchema
  .extend({ secret: z.string().describe('`whsec_...`: verify deliveries with it. Shown once.') })
  .meta({ id: 'CreatedWebhookEndpoint' });

export const rotateSecretBody = z.strictObject({
  grace_period_seconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(24 * 3600)
    .describe('How long deliveries stay signed with the old secret as well; 0 drops it at once.'),
});

export const rotatedSecretSchema = z
  .object({
    id: z.uuid(),
    secret: z.string().describe('The new `whsec_...` secret. Shown once.'),
    previous_secret_expires_at: z.date().nullable(),
  })
  .meta({ id: 'RotatedWebhookSecret' });

export const webhookDeliveryStatusSchema = z.enum(['pending', 'succeeded', 'failed', 'cancelled']);

export const webhookAttemptSchema = z
  .object({
    trigger: z.enum(['automatic', 'manual']),
    status_code: z.number().int().nullable().describe('null when no HTTP response came back (timeout, refused connection).'),
    error: z.string().nullable(),
    response_body: z.string().nullable().describe("The first KiB of the receiver's answer."),
    duration_ms: z.number().int(),
    attempted_at: z.date(),
  })
  .meta({ id: 'WebhookAttempt' });

export const webhookDeliverySchema = z
  .object({
    id: z.uuid(),
    endpoint_id: z.uuid(),
    event_type: z.string(),
    message_id: z.string().describe('The `webhook-id` header of every attempt.'),
    status: webhookDeliveryStatusSchema,
    attempt_count: z.number().int(),
    next_attempt_at: z.date().nullable(),
    last_attempt_at: z.date().nullable(),
    delivered_at: z.date().nullable(),
    created_at: z.date(),
    payload: z.unknown().describe('The body that is signed and sent.'),
    attempts: z.array(webhookAttemptSchema),
  })
  .meta({ id: 'WebhookDelivery' });

export const webhookDeliveriesQuery = pageQuerySchema.extend({ status: webhookDeliveryStatusSchema.optional() });

export const webhookDeliveryParams = z.object({ id: z.uuid(), deliveryId: z.uuid() });

/**
 * The bodies receivers get: `{ type, timestamp, data }` as the Standard Webhooks spec recommends.
 * `data` carries ids and counts, never task payloads or answers: those leave only through the
 * audited results export.
 */
export const webhookDataSchemas = {
  'job.completed': z.object({ job_id: z.uuid(), tasks_total: z.number().int(), tasks_decided: z.number().int() }),
  'job.progress': z.object({
    job_id: z.uuid(),
    tasks_total: z.number().int(),
    tasks_decided: z.number().int(),
    percent: z.number().int().min(0).max(100).describe('The 10% step just reached.'),
  }),
  'task.decided': z.object({
    job_id: z.uuid(),
    task_id: z.number().int(),
    external_id: z.string().nullable(),
    agreement: z.number().nullable(),
  }),
  'job.activated': z.object({ job_id: z.uuid() }),
  'job.cancelled': z.object({ job_id: z.uuid() }),
  'tasks.imported': z.object({ job_id: z.uuid(), created: z.number().int() }),
  'assignment.submitted': z.object({ assignment_id: z.number().int(), task_id: z.number().int(), job_id: z.uuid(), worker_id: z.uuid() }),
  'assignment.expired': z.object({ assignment_id: z.number().int(), task_id: z.number().int(), job_id: z.uuid(), worker_id: z.uuid() }),
  'assignment.released': z.object({
    assignment_id: z.number().int(),
    task_id: z.number().int(),
    job_id: z.uuid(),
    worker_id: z.uuid(),
    reason: z.string(),
  }),
} satisfies Record<WebhookEventType, z.ZodObject>;

export const webhookMessageSchema = z.object({
  type: webhookEventTypeSchema,
  timestamp: z.string().describe('When the event happened (ISO 8601).'),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookMessage = z.infer<typeof webhookMessageSchema>;
