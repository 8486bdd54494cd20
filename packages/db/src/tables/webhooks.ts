import type { Generated } from 'kysely';
import type { Timestamp } from './core.js';

/** Outbound webhooks (written by task-dispatch) and the record of job data purges. */

export interface WebhookEndpointsTable {
  id: Generated<string>;
  organization_id: string;
  /** http(s) only. */
  url: string;
  description: Generated<string>;
  event_types: string[];
  /** `whsec_<base64>`; signs every delivery. */
  secret: string;
  /** The secret before the last rotation, still used to sign until `previous_secret_expires_at`. */
  previous_secret: string | null;
  previous_secret_expires_at: Timestamp | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Timestamp | null;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  endpoint_id: string;
  organization_id: string;
  event_type: string;
  /** The business event reported, e.g. `task.decided:42`; unique per endpoint. */
  source_key: string;
  /** The `webhook-id` header, stable across attempts. */
  message_id: string;
  /** The exact JSON text signed and sent. */
  body: string;
  status: Generated<WebhookDeliveryStatus>;
  attempt_count: Generated<number>;
  manual_redeliveries: Generated<number>;
  next_attempt_at: Timestamp | null;
  last_attempt_at: Timestamp | null;
  delivered_at: Timestamp | null;
  created_at: Generated<Date>;
}

export interface WebhookDeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: string;
  trigger: 'automatic' | 'manual';
  /** null when no HTTP response came back (timeout, refused connection). */
  status_code: number | null;
  error: string | null;
  /** The first KiB of the receiver's answer, for debugging a failing endpoint. */
  response_body: string | null;
  duration_ms: number;
  attempted_at: Timestamp;
}

/**
 * One row per job whose data the client asked to purge (written by task-dispatch). The task data goes
 * at once; the answers in `assignments` are erased by worker-assignment, whose report sets
 * `assignments_purged` and `completed_at` (both null while the purge is pending).
 */
export interface JobDataPurgesTable {
  job_id: string;
  actor_key_id: string | null;
  tasks_purged: number;
  assignments_purged: number | null;
  requested_at: Timestamp;
  completed_at: Timestamp | null;
}

export interface WebhookTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
  job_data_purges: JobDataPurgesTable;
}
