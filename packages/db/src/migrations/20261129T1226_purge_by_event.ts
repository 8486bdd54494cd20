import { sql, type Kysely } from 'kysely';

/**
 * A job data purge becomes two steps owned by two services. task-dispatch erases what it owns (task
 * payloads, predictions, gold, results) when the client asks, records the request in
 * `job_data_purges`, and asks worker-assignment by event to erase the answers in `assignments`;
 * worker-assignment does so once per job, records it in `assignment_answer_purges`, and reports the
 * count back by event, which completes the task-dispatch record. Until then the purge is pending:
 * `completed_at` and `assignments_purged` are null together.
 *
 * Purges recorded before this migration erased both at once, so they are complete.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE job_data_purges RENAME COLUMN purged_at TO requested_at;
    ALTER TABLE job_data_purges ADD COLUMN completed_at timestamptz(3);
    UPDATE job_data_purges SET completed_at = requested_at;
    ALTER TABLE job_data_purges ALTER COLUMN assignments_purged DROP NOT NULL;
    ALTER TABLE job_data_purges ADD CONSTRAINT job_data_purges_completion CHECK ((completed_at IS NULL) = (assignments_purged IS NULL));

    -- Written by worker-assignment only: one row per job whose answers it erased, so a redelivered
    -- request erases nothing more and reports nothing twice.
    CREATE TABLE assignment_answer_purges (
      job_id uuid PRIMARY KEY REFERENCES jobs(id),
      answers_erased integer NOT NULL CHECK (answers_erased >= 0),
      erased_at timestamptz(3) NOT NULL
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE assignment_answer_purges;
    ALTER TABLE job_data_purges DROP CONSTRAINT job_data_purges_completion;
    -- A pending purge had erased no answer yet.
    UPDATE job_data_purges SET assignments_purged = 0 WHERE assignments_purged IS NULL;
    ALTER TABLE job_data_purges ALTER COLUMN assignments_purged SET NOT NULL;
    ALTER TABLE job_data_purges DROP COLUMN completed_at;
    ALTER TABLE job_data_purges RENAME COLUMN requested_at TO purged_at;
  `.execute(db);
}
