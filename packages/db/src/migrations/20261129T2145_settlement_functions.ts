import { sql, type Kysely } from 'kysely';

// Functions of packages/db/sql (applied after the migrations, so not created here) that the earlier
// settlement migrations' downs do not know: st_settle_assignments with the assignments that had earlier
// decisions (st_settle_assignments.sql: the ledger is read only for those), the consumer's one call
// per batch (st_post_events.sql) and what a writer posted (st_posted_since.sql). Down drops them, so a
// reverted schema keeps no function of them.
export async function up(_db: Kysely<unknown>): Promise<void> {}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS st_post_events(jsonb, jsonb, jsonb), st_settle_assignments(bigint[], bigint[]), st_posted_since(bigint)`.execute(db);
}
