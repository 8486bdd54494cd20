import { sql, type Kysely } from 'kysely';

/**
 * Plans of the claim and the submit that stay right as `assignments` grows.
 *
 * Both run as statements planned once per connection and then kept (PL/pgSQL and named prepared
 * statements cache a generic plan after a few calls). A plan made while `assignments` was empty or
 * tiny chose sequential scans of it — for the "not an item this worker already did" anti-join, for
 * the submit's UPDATE by id — and kept them while the table grew: measured with auto_explain in
 * bench/claim, every claim scanned all assignments twice and every submit once, so the more work was
 * done the slower each claim got (until an ANALYZE happened to invalidate the plans). Every statement
 * of the claim and the submit is a lookup by key, so a sequential scan is never the right plan for
 * them: planned with sequential scans disabled, the index plan is the one cached, whatever the
 * statistics said at the time. (A table with no usable index still gets a sequential scan.)
 *
 * The submit moves into a function for that reason; it is the statement submit.service.ts ran
 * before: the holder's live lease becomes 'submitted' and, only if it did, the event's outbox rows
 * (built and validated by @fairlabel/queues) are written and the relay is notified, atomically.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER FUNCTION wa_claim(uuid, uuid, timestamptz, boolean, uuid[], boolean) SET enable_seqscan = off;

    CREATE FUNCTION wa_submit(p_id bigint, p_worker_id uuid, p_now timestamptz, p_answer jsonb, p_time_spent_ms integer,
                              p_task_id bigint, p_job_id uuid, p_vendor_id uuid, p_outbox jsonb, p_channel text)
    RETURNS SETOF assignments LANGUAGE plpgsql SET enable_seqscan = off AS $f$
    DECLARE
      submitted assignments;
    BEGIN
      -- The task's payload is only ever cleared (a purge), never changed: while it is there, the answer
      -- context the caller validated against is still the task's.
      UPDATE assignments a
      SET status = 'submitted', answer = p_answer, time_spent_ms = p_time_spent_ms, submitted_at = p_now, ended_at = p_now
      FROM tasks t
      WHERE a.id = p_id AND a.worker_id = p_worker_id AND a.status = 'leased' AND a.lease_expires_at > p_now
        AND a.task_id = p_task_id AND a.job_id = p_job_id AND a.vendor_id = p_vendor_id
        AND t.id = a.task_id AND t.payload IS NOT NULL
      RETURNING a.* INTO submitted;
      IF NOT FOUND THEN
        RETURN;
      END IF;
      INSERT INTO outbox (event, queue, payload)
      SELECT o.event, o.queue, o.payload FROM jsonb_to_recordset(p_outbox) AS o(event text, queue text, payload jsonb);
      PERFORM pg_notify(p_channel, '');
      RETURN NEXT submitted;
    END $f$;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION wa_submit(bigint, uuid, timestamptz, jsonb, integer, bigint, uuid, uuid, jsonb, text);
    ALTER FUNCTION wa_claim(uuid, uuid, timestamptz, boolean, uuid[], boolean) RESET enable_seqscan;
  `.execute(db);
}
