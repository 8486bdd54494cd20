import { sql, type Kysely } from 'kysely';
// The level QA promoted a worker to, until worker-assignment applies it: worker_skills (worker-assignment's)
// changes only when it consumes `worker.skill_changed`, so a second promotion decided before that read
// the old level and promoted from it again (2→3 twice, which worker-assignment applies once: a lost
// level). The skill rules read the level as "promoted_to while worker_skills still says promoted_from",
// under the record's row lock, in the transaction that writes the next action.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE qa_worker_skills ADD COLUMN promoted_from smallint, ADD COLUMN promoted_to smallint;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE qa_worker_skills DROP COLUMN promoted_from, DROP COLUMN promoted_to`.execute(db);
}
