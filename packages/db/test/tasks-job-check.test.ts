import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as test } from '../src/testing/index.js';
import type { Db } from '../src/index.js';

// tasks.job_id is checked per statement by triggers instead of a declared foreign key (see the
// migration 20261128T1000_tasks_job_check); these are the guarantees the foreign key gave.

/** A draft job of a new client organization: each test makes its own. */
async function newJob(db: Db) {
  const org = await db.insertInto('organizations').values({ name: 'client', kind: 'client' }).returning('id').executeTakeFirstOrThrow();
  return db
    .insertInto('jobs')
    .values({ client_id: org.id, name: 'job', task_type: 'classification', label_config: '{"labels":["a","b"]}', instructions: '', pay_per_annotation: 1, client_price_per_item: 1, currency: 'USD' })
    .returning('id')
    .executeTakeFirstOrThrow();
}

const insertTask = (db: Db, jobId: string) =>
  db.insertInto('tasks').values({ job_id: jobId, payload: JSON.stringify({ x: 1 }), required_annotations: 1 }).returning('id').executeTakeFirstOrThrow();

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; constraint?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; constraint?: string };
  }
  throw new Error('expected the statement to fail');
}

describe('tasks.job_id', () => {
  test('a task of a job that does not exist is refused with the foreign-key error, also within a multi-row insert', async ({ db }) => {
    const job = await newJob(db);
    expect(await errorOf(insertTask(db, '00000000-0000-4000-8000-000000000000'))).toMatchObject({ code: '23503', constraint: 'tasks_job_id_fkey' });
    const mixed = sql`INSERT INTO tasks (job_id, payload, required_annotations) VALUES (${job.id}, '{}', 1), ('00000000-0000-4000-8000-000000000001', '{}', 1)`.execute(db);
    expect(await errorOf(mixed)).toMatchObject({ code: '23503' });
    expect(await db.selectFrom('tasks').select('id').where('job_id', '=', job.id).execute()).toEqual([]);
  });

  test('a job with tasks cannot be deleted or renumbered; a task cannot move to another job; a job without tasks can be deleted', async ({ db }) => {
    const job = await newJob(db);
    const other = await newJob(db);
    const task = await insertTask(db, job.id);
    expect(await errorOf(db.deleteFrom('jobs').where('id', '=', job.id).execute())).toMatchObject({ code: '23503' });
    expect(await errorOf(sql`UPDATE jobs SET id = gen_random_uuid() WHERE id = ${job.id}`.execute(db))).toMatchObject({ code: '23503' });
    expect(await errorOf(db.updateTable('tasks').set({ job_id: other.id }).where('id', '=', task.id).execute())).toMatchObject({ code: '23503' });
    await db.deleteFrom('jobs').where('id', '=', other.id).execute();
    expect(await db.selectFrom('jobs').select('id').where('id', '=', other.id).execute()).toEqual([]);
  });

  test('a delete of the job waits for a transaction still inserting its tasks, then is refused', async ({ db }) => {
    const job = await newJob(db);
    let deleting: Promise<unknown> | undefined;
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('tasks').values({ job_id: job.id, payload: '{}', required_annotations: 1 }).execute();
      deleting = errorOf(db.deleteFrom('jobs').where('id', '=', job.id).execute());
      // The delete blocks on the job row the insert locked: wait until Postgres shows it waiting there
      // (asked outside this transaction, which would see one frozen snapshot of pg_stat_activity).
      await expect
        .poll(async () => {
          const waiting = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'delete from "jobs"%'`.execute(db);
          return waiting.rows[0]!.n;
        }, { timeout: 10_000, interval: 20 })
        .toBe(1);
    });
    expect(await deleting).toMatchObject({ code: '23503' });
  });
});
