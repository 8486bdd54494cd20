import { sql, type Kysely } from 'kysely';

// The relay carries events to BullMQ in batches (one job of up to N events per queue and drain, not one
// job per row): batch_id is the BullMQ job id of the batch that carried the row, set in the same UPDATE
// as sent_at. The reconciler checks, and re-publishes, per batch; the ops API maps a failed batch job to
// its rows. Rows sent before batching (batch_id null) keep their own job, `outbox-<id>`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE outbox ADD COLUMN batch_id text;
    -- The rows of a batch in flight: the reconciler marks a completed batch consumed and re-publishes a
    -- lost one by it; a consumed row leaves the index, so it stays the size of what is in flight.
    CREATE INDEX outbox_batch_in_flight ON outbox (batch_id) WHERE batch_id IS NOT NULL AND consumed_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX outbox_batch_in_flight;
    ALTER TABLE outbox DROP COLUMN batch_id;
  `.execute(db);
}
