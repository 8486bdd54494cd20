import { sql, type Kysely } from 'kysely';

/**
 * The batched claim and submit (issue 14): wa_claim_batch and wa_submit_batch are created by their
 * files in packages/db/sql, applied after the migrations; nothing to create here.
 *
 * down: drops them, since only the files create them (they depend on wa_claim_result and the
 * assignments row type, which earlier downs drop).
 */
export async function up(_db: Kysely<unknown>): Promise<void> {}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS wa_claim_batch(jsonb), wa_submit_batch(jsonb, text)`.execute(db);
}
