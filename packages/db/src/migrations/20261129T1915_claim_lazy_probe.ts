import { sql, type Kysely } from 'kysely';

/**
 * The claim's lazy probe (issue 14): wa_claim walks the hinted jobs one at a time and stops at the
 * first that cannot beat the best found, instead of probing a batch of them. wa_claim_job (one job's
 * eligibility and best open slot for a worker) and wa_claim_take (the chosen job's share cap, gold,
 * lock and insert) are created by their files in packages/db/sql, applied after the migrations;
 * nothing to create here.
 *
 * down: drops them, since only the files create them (wa_claim_take returns wa_claim_result, which an
 * earlier down drops).
 */
export async function up(_db: Kysely<unknown>): Promise<void> {}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS wa_claim_take(uuid, uuid, timestamptz, uuid, float8, jsonb);
    DROP FUNCTION IF EXISTS wa_claim_job(uuid, uuid, uuid);
  `.execute(db);
}
