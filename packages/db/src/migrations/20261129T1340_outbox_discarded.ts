import { sql, type Kysely } from 'kysely';

// An operator may discard an event whose job failed for good (the ops API, the ops console). Removing
// the job from Redis alone would not do: the reconciler re-publishes every sent, unconsumed row whose
// job Redis does not hold. discarded_at records the decision (who and why are in audit_log), and the
// reconciler leaves such rows alone.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE outbox ADD COLUMN discarded_at timestamptz(3)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE outbox DROP COLUMN discarded_at`.execute(db);
}
