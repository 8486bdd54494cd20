import { sql, type Kysely } from 'kysely';

/**
 * The record of applied SQL files (packages/db/sql, see sql-files.ts): functions and triggers are
 * applied after the versioned migrations whenever their file's checksum differs from the one here.
 *
 * From now on the bodies of the functions and triggers created by earlier migrations come from those
 * files; the migrations stay as they are (they are on main), and the files supersede their bodies.
 *
 * down: drops the record, and the objects that only SQL files create (no earlier migration's down
 * drops them), so a full round trip leaves an empty schema. Between a `migrate down` and the next
 * `migrate` the functions may name such a dropped helper; `migrate` re-applies every file.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE sql_files (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz(3) NOT NULL DEFAULT now()
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS wa_job_order(), wa_open_slots(uuid, uuid), wa_lease_interval(integer, jsonb), wa_answer_refused(text, text, text, timestamptz);
    DROP TABLE sql_files;
  `.execute(db);
}
