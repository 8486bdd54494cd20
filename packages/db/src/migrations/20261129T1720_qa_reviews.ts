import { sql, type Kysely } from 'kysely';

/**
 * qa-sampling's review and appeal tables (README "Quality: review, predictions, appeals"; qa-sampling
 * is their only writer).
 *
 * - qa_reviews: a submission sampled for review (one per assignment: the key makes a redelivered
 *   submission sample nothing twice). pending → leased (to a reviewer, until lease_expires_at; an
 *   expired lease is pending again for the next `POST /v1/reviews/next`) → completed with the outcome,
 *   the comment, a corrected answer, and the assignment decision it made.
 * - qa_appeals: a worker's appeal of a rejection (one per assignment, ever), decided by a reviewer of a
 *   higher level; an upheld appeal names the accepting decision that supersedes the rejection.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE qa_reviews (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      assignment_id bigint NOT NULL UNIQUE,
      task_id bigint NOT NULL,
      job_id uuid NOT NULL,
      client_id uuid NOT NULL,
      worker_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'leased', 'completed')),
      reviewer_worker_id uuid,
      reviewer_vendor_id uuid,
      leased_at timestamptz(3),
      lease_expires_at timestamptz(3),
      last_heartbeat_at timestamptz(3),
      outcome text CHECK (outcome IN ('accepted', 'rejected', 'corrected')),
      comment text,
      corrected_answer jsonb,
      time_spent_ms integer,
      decision_id bigint,
      task_decision_id bigint,
      sampled_at timestamptz(3) NOT NULL DEFAULT now(),
      completed_at timestamptz(3),
      CHECK ((status = 'pending') = (reviewer_worker_id IS NULL)),
      CHECK ((status = 'completed') = (outcome IS NOT NULL))
    );
    -- The review queue: what is not completed, oldest first.
    CREATE INDEX qa_reviews_open ON qa_reviews (id) WHERE status <> 'completed';
    CREATE INDEX qa_reviews_job ON qa_reviews (job_id);
    CREATE INDEX qa_reviews_reviewer ON qa_reviews (reviewer_worker_id);

    CREATE TABLE qa_appeals (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      assignment_id bigint NOT NULL UNIQUE,
      rejection_decision_id bigint NOT NULL REFERENCES qa_assignment_decisions (id),
      task_id bigint NOT NULL,
      job_id uuid NOT NULL,
      client_id uuid NOT NULL,
      worker_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      worker_level smallint NOT NULL,
      reason text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'upheld', 'denied')),
      decider_worker_id uuid,
      decider_vendor_id uuid,
      comment text,
      decision_id bigint REFERENCES qa_assignment_decisions (id),
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      decided_at timestamptz(3),
      CHECK ((status = 'pending') = (decided_at IS NULL))
    );
    CREATE INDEX qa_appeals_pending ON qa_appeals (id) WHERE status = 'pending';
    CREATE INDEX qa_appeals_job ON qa_appeals (job_id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE qa_appeals;
    DROP TABLE qa_reviews;
  `.execute(db);
}
