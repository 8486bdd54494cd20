import { sql, type Kysely } from 'kysely';

// The reconciler's undecided-submission source looks for submitted assignments QA has not recorded;
// submitted ones are the few in flight, so a partial index keeps that look-up small however many
// assignments a database holds.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX assignments_submitted ON assignments (id) WHERE status = 'submitted'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX assignments_submitted`.execute(db);
}
