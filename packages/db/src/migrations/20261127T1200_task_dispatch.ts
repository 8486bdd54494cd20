import { sql, type Kysely } from 'kysely';

// Indexes task-dispatch needs to stay O(changes) rather than O(tasks) on large jobs.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Completion asks "is any task of this job still open?" on every task.decided event; without a
    -- partial index that is a scan of the job's tasks each time, quadratic over a job's life.
    CREATE INDEX tasks_job_open ON tasks (job_id) WHERE status = 'open';
    -- Progress computes the recent completion rate (ETA) from the latest decisions of a job.
    CREATE INDEX tasks_job_decided ON tasks (job_id, decided_at) WHERE status = 'decided';
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX tasks_job_decided, tasks_job_open`.execute(db);
}
