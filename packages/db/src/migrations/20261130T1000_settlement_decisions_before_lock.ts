import { sql, type Kysely } from 'kysely';

// st_insert_decisions, st_settle_decisions and their helpers (packages/db/sql/st_record_decisions.sql),
// st_insert_reviews and st_settle_reviews (st_record_reviews.sql), applied after the migrations, so not
// created here: a batch's decisions and reviews, with their hours, are recorded before the ledger lock
// is taken, and only its ledger waits its turn. Down drops them, so a reverted schema keeps no
// function of them.
export async function up(_db: Kysely<unknown>): Promise<void> {}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS st_insert_decisions(jsonb), st_settle_decisions(bigint[], bigint[], timestamptz[]), st_settle_decisions(bigint[], bigint[], timestamptz[], timestamptz[]), st_decision_firsts(bigint[], bigint[], timestamptz[]), st_decision_hours(bigint, timestamptz, timestamptz, integer), st_insert_reviews(jsonb), st_settle_reviews(bigint[])`.execute(db);
}
