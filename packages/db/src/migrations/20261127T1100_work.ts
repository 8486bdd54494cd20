import { sql, type Kysely } from 'kysely';

// Workers and skills, jobs, tasks and assignments: the tables every service reads.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE workers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      vendor_id uuid NOT NULL REFERENCES organizations(id),
      external_ref text,
      display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
      region_country char(2) NOT NULL CHECK (region_country ~ '^[A-Z]{2}$'),
      region_province text,
      city_tier smallint NOT NULL CHECK (city_tier BETWEEN 1 AND 5),
      area text NOT NULL CHECK (area IN ('urban', 'rural')),
      timezone text NOT NULL DEFAULT 'UTC',
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      accommodations jsonb NOT NULL DEFAULT '{}',
      daily_active_limit_seconds integer CHECK (daily_active_limit_seconds > 0),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (vendor_id, external_ref),
      -- Lets tables that carry both ids prove the worker belongs to that vendor.
      UNIQUE (id, vendor_id)
    );
    CREATE INDEX workers_vendor ON workers (vendor_id, created_at, id);

    ALTER TABLE api_keys ADD CONSTRAINT api_keys_worker FOREIGN KEY (worker_id) REFERENCES workers(id);

    CREATE TABLE worker_skills (
      worker_id uuid NOT NULL REFERENCES workers(id),
      skill text NOT NULL CHECK (skill ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
      level smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
      source text NOT NULL CHECK (source IN ('vendor', 'qa', 'ops')),
      suspended_at timestamptz(3),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (worker_id, skill)
    );

    CREATE TABLE skill_level_events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      worker_id uuid NOT NULL REFERENCES workers(id),
      skill text NOT NULL,
      from_level smallint,
      to_level smallint,
      source text NOT NULL CHECK (source IN ('vendor', 'qa', 'ops')),
      reason text NOT NULL,
      actor_key_id uuid REFERENCES api_keys(id),
      created_at timestamptz(3) NOT NULL DEFAULT now()
    );
    CREATE INDEX skill_level_events_worker ON skill_level_events (worker_id, created_at);

    CREATE TABLE jobs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      client_id uuid NOT NULL REFERENCES organizations(id),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      task_type text NOT NULL CHECK (task_type IN ('classification', 'multi_label', 'bounding_boxes', 'text_spans', 'transcription', 'free_text')),
      label_config jsonb NOT NULL,
      instructions text NOT NULL DEFAULT '',
      required_skill text,
      min_level smallint NOT NULL DEFAULT 1 CHECK (min_level BETWEEN 1 AND 5),
      overlap smallint NOT NULL DEFAULT 1 CHECK (overlap BETWEEN 1 AND 9),
      pay_per_annotation bigint NOT NULL CHECK (pay_per_annotation >= 0),
      client_price_per_item bigint NOT NULL CHECK (client_price_per_item >= 0),
      currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      vendor_allowlist uuid[],
      vendor_share_caps jsonb NOT NULL DEFAULT '{}',
      priority integer NOT NULL DEFAULT 0,
      deadline timestamptz(3),
      lease_seconds integer NOT NULL DEFAULT 600 CHECK (lease_seconds BETWEEN 30 AND 86400),
      qa_policy jsonb NOT NULL DEFAULT '{}',
      contains_pii boolean NOT NULL DEFAULT false,
      allowed_regions text[],
      status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'completed', 'cancelled')),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      activated_at timestamptz(3),
      completed_at timestamptz(3),
      cancelled_at timestamptz(3)
    );
    CREATE INDEX jobs_client ON jobs (client_id, created_at, id);
    CREATE INDEX jobs_active ON jobs (priority DESC, deadline, created_at) WHERE status = 'active';

    CREATE TABLE tasks (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      job_id uuid NOT NULL REFERENCES jobs(id),
      external_id text,
      payload jsonb,
      priority integer NOT NULL DEFAULT 0,
      prediction jsonb,
      prediction_confidence real CHECK (prediction_confidence BETWEEN 0 AND 1),
      prediction_model text,
      gold jsonb,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided', 'cancelled')),
      required_annotations smallint NOT NULL CHECK (required_annotations BETWEEN 0 AND 50),
      result jsonb,
      agreement real,
      decided_at timestamptz(3),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE (job_id, external_id)
    );
    CREATE INDEX tasks_job ON tasks (job_id, id);

    CREATE TABLE assignments (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      task_id bigint NOT NULL REFERENCES tasks(id),
      job_id uuid NOT NULL REFERENCES jobs(id),
      worker_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      status text NOT NULL DEFAULT 'leased' CHECK (status IN ('leased', 'submitted', 'accepted', 'rejected', 'expired', 'released')),
      leased_at timestamptz(3) NOT NULL DEFAULT now(),
      lease_expires_at timestamptz(3) NOT NULL,
      last_heartbeat_at timestamptz(3),
      submitted_at timestamptz(3),
      answer jsonb,
      time_spent_ms integer CHECK (time_spent_ms >= 0),
      release_reason text,
      decided_at timestamptz(3),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      -- Nobody annotates the same item twice.
      UNIQUE (task_id, worker_id),
      FOREIGN KEY (worker_id, vendor_id) REFERENCES workers(id, vendor_id)
    );
    CREATE INDEX assignments_job_status ON assignments (job_id, status);
    CREATE INDEX assignments_worker ON assignments (worker_id, status, leased_at);
    CREATE INDEX assignments_lease_expiry ON assignments (lease_expires_at) WHERE status = 'leased';
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE assignments, tasks, jobs, skill_level_events, worker_skills;
    ALTER TABLE api_keys DROP CONSTRAINT api_keys_worker;
    DROP TABLE workers;
  `.execute(db);
}
