import { sql, type Kysely } from 'kysely';

// st_id_set (packages/db/sql/st_expected_pay.sql, applied after the migrations, so not created here):
// the distinct ids of an array as a set planned at a batch's size, which st_expected_pay reads its
// assignments from (a generic plan's 10-row estimate of unnest() turned the posting statement's join
// into a nested loop once the ledger tables had statistics). Down drops it, so a reverted schema keeps
// no function of it.
export async function up(_db: Kysely<unknown>): Promise<void> {}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS st_id_set(bigint[])`.execute(db);
}
