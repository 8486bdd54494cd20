import { sql, type Kysely } from 'kysely';

// Client and vendor webhook endpoints, their deliveries and every delivery attempt; the record of
// job data purges.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhook_endpoints (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      organization_id uuid NOT NULL REFERENCES organizations(id),
      url text NOT NULL CHECK (url ~* '^https?://' AND length(url) <= 2048),
      description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
      event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
      -- Kept in clear: signing needs the secret itself, not a hash of it.
      secret text NOT NULL CHECK (secret LIKE 'whsec\_%'),
      -- During a rotation's grace period deliveries carry a signature with each secret.
      previous_secret text CHECK (previous_secret LIKE 'whsec\_%'),
      previous_secret_expires_at timestamptz(3),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      -- Soft delete: the delivery history stays readable for support and audits.
      deleted_at timestamptz(3),
      CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
    );
    CREATE INDEX webhook_endpoints_organization ON webhook_endpoints (organization_id, created_at, id) WHERE deleted_at IS NULL;

    CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id),
      organization_id uuid NOT NULL REFERENCES organizations(id),
      event_type text NOT NULL,
      -- The business event this delivery reports (e.g. task.decided:42): one delivery per endpoint
      -- and event, however often the event itself is redelivered.
      source_key text NOT NULL CHECK (length(source_key) BETWEEN 1 AND 300),
      -- The webhook-id header: the same on every attempt, so receivers can deduplicate.
      message_id text NOT NULL UNIQUE,
      -- The exact bytes that are signed and sent.
      body text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
      attempt_count integer NOT NULL DEFAULT 0,
      manual_redeliveries integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz(3),
      last_attempt_at timestamptz(3),
      delivered_at timestamptz(3),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (endpoint_id, source_key)
    );
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
    CREATE INDEX webhook_deliveries_pending_source ON webhook_deliveries (source_key) WHERE status = 'pending';

    CREATE TABLE webhook_delivery_attempts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id),
      trigger text NOT NULL CHECK (trigger IN ('automatic', 'manual')),
      status_code integer,
      error text,
      response_body text,
      duration_ms integer NOT NULL CHECK (duration_ms >= 0),
      attempted_at timestamptz(3) NOT NULL
    );
    CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id, id);

    -- One row per purged job: makes a second purge a no-op and records who purged and how much.
    CREATE TABLE job_data_purges (
      job_id uuid PRIMARY KEY REFERENCES jobs(id),
      actor_key_id uuid REFERENCES api_keys(id),
      tasks_purged integer NOT NULL,
      assignments_purged integer NOT NULL,
      purged_at timestamptz(3) NOT NULL
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE job_data_purges, webhook_delivery_attempts, webhook_deliveries, webhook_endpoints`.execute(db);
}
