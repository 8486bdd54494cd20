import { sql, type Kysely } from 'kysely';
// Timestamps are stored at millisecond precision (timestamptz(3)) so they round-trip exactly through
// JavaScript Dates: keyset-pagination cursors built from a Date then match the stored value.

// Organizations, API keys, the transactional outbox, idempotency keys and the audit log.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE organizations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      kind text NOT NULL CHECK (kind IN ('client', 'vendor', 'platform')),
      created_at timestamptz(3) NOT NULL DEFAULT now()
    );
    -- There is one platform organization: the operator of this installation.
    CREATE UNIQUE INDEX organizations_one_platform ON organizations (kind) WHERE kind = 'platform';

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organizations(id),
      worker_id uuid,
      role text NOT NULL CHECK (role IN ('client', 'vendor', 'worker', 'ops', 'finance', 'admin')),
      name text NOT NULL DEFAULT '',
      prefix text NOT NULL UNIQUE,
      key_hash bytea NOT NULL CHECK (length(key_hash) = 32),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      revoked_at timestamptz(3),
      last_used_at timestamptz(3),
      -- A worker key acts for exactly one worker; no other role carries one.
      CHECK ((role = 'worker') = (worker_id IS NOT NULL))
    );
    CREATE INDEX api_keys_organization ON api_keys (organization_id, created_at);

    CREATE TABLE outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event text NOT NULL,
      queue text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      sent_at timestamptz(3),
      attempts integer NOT NULL DEFAULT 0,
      last_error text
    );
    -- The relay only ever scans unsent rows; keep that scan tiny however long the history grows.
    CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

    CREATE TABLE idempotency_keys (
      organization_id uuid NOT NULL REFERENCES organizations(id),
      key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
      method text NOT NULL,
      path text NOT NULL,
      request_hash text NOT NULL,
      status_code integer,
      response_body jsonb,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      completed_at timestamptz(3),
      PRIMARY KEY (organization_id, key)
    );

    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      organization_id uuid NOT NULL REFERENCES organizations(id),
      actor_key_id uuid REFERENCES api_keys(id),
      actor_role text,
      action text NOT NULL,
      resource_type text NOT NULL,
      resource_id text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz(3) NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_resource ON audit_log (organization_id, resource_type, resource_id, created_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE audit_log, idempotency_keys, outbox, api_keys, organizations`.execute(db);
}
