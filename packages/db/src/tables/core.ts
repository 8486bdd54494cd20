import type { ColumnType, Generated } from 'kysely';

/** timestamptz: read as Date, written as Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
/** jsonb: kysely passes objects through pg, which serialises them. */
export type Json<T = unknown> = ColumnType<T, T | string, T | string>;

export type OrganizationKind = 'client' | 'vendor' | 'platform';
export type ApiKeyRole = 'client' | 'vendor' | 'worker' | 'ops' | 'finance' | 'admin';

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  kind: OrganizationKind;
  created_at: Generated<Date>;
}

export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  worker_id: string | null;
  role: ApiKeyRole;
  name: string;
  /** Public part of the key, shown in listings and used to find the row; unique. */
  prefix: string;
  /** sha256 of the whole key. Keys are 256-bit random, so a fast hash is enough (nothing to brute-force). */
  key_hash: Buffer;
  created_at: Generated<Date>;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface OutboxTable {
  id: Generated<number>;
  /** Event type, e.g. `assignment.submitted`. */
  event: string;
  /** Destination BullMQ queue; an event with two consumers is two rows. */
  queue: string;
  payload: Json<Record<string, unknown>>;
  created_at: Generated<Date>;
  /** When the relay handed the row to Redis. Not proof that it is still queued (see consumed_at). */
  sent_at: Timestamp | null;
  /**
   * The BullMQ job id of the batch that carried the row (`outbox-batch-<first id>-<hash>`), set with
   * sent_at; null for rows sent before batching, whose job is `outbox-<id>`.
   */
  batch_id: string | null;
  /** When the reconciler saw its job completed by the consumer; null while in flight. */
  consumed_at: Timestamp | null;
  /** When an operator discarded the row's failed job (ops API or console); the reconciler leaves it alone. */
  discarded_at: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface IdempotencyKeysTable {
  organization_id: string;
  key: string;
  method: string;
  path: string;
  /** sha256 of the request body: the same key with another body is a 422, not a replay. */
  request_hash: string;
  status_code: number | null;
  response_body: Json<unknown> | null;
  /** The response carried a secret, stored without it; a replay is a 409 secret_already_issued. */
  secret_withheld: Generated<boolean>;
  created_at: Generated<Date>;
  completed_at: Timestamp | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  organization_id: string;
  actor_key_id: string | null;
  actor_role: string | null;
  action: string;
  resource_type: string;
  resource_id: string;
  details: Json<Record<string, unknown>>;
  created_at: Generated<Date>;
}

export interface CoreTables {
  organizations: OrganizationsTable;
  api_keys: ApiKeysTable;
  outbox: OutboxTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_log: AuditLogTable;
}
