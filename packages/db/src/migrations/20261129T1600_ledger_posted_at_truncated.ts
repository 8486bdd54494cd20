import { sql, type Kysely } from 'kysely';

// A pay run (and an invoice) covers the ledger transactions posted before its period's end:
// `posted_at < period_end`, to the millisecond. posted_at was clock_timestamp() stored in a
// timestamptz(3), which rounds: a transaction inserted at 12:00:00.1236 was stamped .124, after a
// period ending at .124 although it was posted before it. Truncating instead stamps every transaction
// at or before the moment it was inserted, so "inserted before period_end" and "in the run" agree.
// Still taken under the ledger lock, so posted_at keeps growing with id.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE ledger_transactions ALTER COLUMN posted_at SET DEFAULT date_trunc('milliseconds', clock_timestamp())`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE ledger_transactions ALTER COLUMN posted_at SET DEFAULT clock_timestamp()`.execute(db);
}
