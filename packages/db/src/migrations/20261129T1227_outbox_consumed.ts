import { sql, type Kysely } from 'kysely';

// "sent" means the relay handed a row to Redis, not that it is still queued there: Redis can lose it
// (a flush, a failover to an empty replica). consumed_at records that a consumer completed the job, as
// the reconciler observed it; a sent row without it is in flight, and the reconciler re-publishes it
// when its job is missing from Redis.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE outbox ADD COLUMN consumed_at timestamptz(3);
    -- The reconciler's scan: rows in flight, oldest first, within the retention window.
    CREATE INDEX outbox_in_flight ON outbox (created_at, id) WHERE sent_at IS NOT NULL AND consumed_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX outbox_in_flight;
    ALTER TABLE outbox DROP COLUMN consumed_at;
  `.execute(db);
}
