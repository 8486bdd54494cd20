import { sql, type Kysely } from 'kysely';

// st_insert_decisions, st_settle_decisions and their helpers (packages/db/sql/st_record_decisions.sql),
// st_insert_reviews and st_settle_reviews (st_record_reviews.sql), applied after the migrations, so not
// created here: a batch's decisions and reviews, with their hours and their pay, are worked out before
// the ledger lock is taken, and only its ledger waits its turn. The pay is carried from one step to the
// other as st_pay rows (st_expected_pay's columns), the one thing here a migration must create. Down
// drops the functions and the type, so a reverted schema keeps none of them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TYPE st_pay AS (
      assignment_id bigint, decision_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid, vendor_id uuid,
      outcome text, work text, worker_level smallint, decided_at timestamptz, currency char(3), multiplier_bp integer,
      commission_bp integer, gross bigint, worker_amount bigint, vendor_amount bigint
    )
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS st_insert_decisions(jsonb), st_settle_decisions(bigint[], bigint[], timestamptz[], timestamptz[], integer[], st_pay[]),
      st_decision_firsts(bigint[], bigint[], timestamptz[]), st_decision_hours(bigint, timestamptz, timestamptz, integer),
      st_insert_reviews(jsonb), st_settle_reviews(bigint[]), st_settle_assignments(bigint[], bigint[], st_pay[]), st_pay_set(st_pay[])
  `.execute(db);
  await sql`DROP TYPE IF EXISTS st_pay`.execute(db);
}
