import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestEnv, newClient, newJob, type TestEnv } from '@fairlabel/testing';

// tasks.job_id is checked per statement by triggers instead of a declared foreign key (see the
// migration 20261128T1000_tasks_job_check); these are the guarantees the foreign key gave.
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.close();
});

const insertTask = (jobId: string) =>
  env.db.insertInto('tasks').values({ job_id: jobId, payload: JSON.stringify({ x: 1 }), required_annotations: 1 }).returning('id').executeTakeFirstOrThrow();

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; constraint?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; constraint?: string };
  }
  throw new Error('expected the statement to fail');
}

describe('tasks.job_id', () => {
  it('a task of a job that does not exist is refused with the foreign-key error, also within a multi-row insert', async () => {
    const client = await newClient(env.db);
    const job = await newJob(env.db, client.organizationId);
    expect(await errorOf(insertTask('00000000-0000-4000-8000-000000000000'))).toMatchObject({ code: '23503', constraint: 'tasks_job_id_fkey' });
    const mixed = sql`INSERT INTO tasks (job_id, payload, required_annotations) VALUES (${job.id}, '{}', 1), ('00000000-0000-4000-8000-000000000001', '{}', 1)`.execute(env.db);
    expect(await errorOf(mixed)).toMatchObject({ code: '23503' });
    expect(await env.db.selectFrom('tasks').select('id').where('job_id', '=', job.id).execute()).toEqual([]);
  });

  it('a job with tasks cannot be deleted or renumbered; a task cannot move to another job; a job without tasks can be deleted', async () => {
    const client = await newClient(env.db);
    const job = await newJob(env.db, client.organizationId);
    const other = await newJob(env.db, client.organizationId);
    const task = await insertTask(job.id);
    expect(await errorOf(env.db.deleteFrom('jobs').where('id', '=', job.id).execute())).toMatchObject({ code: '23503' });
    expect(await errorOf(sql`UPDATE jobs SET id = gen_random_uuid() WHERE id = ${job.id}`.execute(env.db))).toMatchObject({ code: '23503' });
    expect(await errorOf(env.db.updateTable('tasks').set({ job_id: other.id }).where('id', '=', task.id).execute())).toMatchObject({ code: '23503' });
    await env.db.deleteFrom('jobs').where('id', '=', other.id).execute();
    expect(await env.db.selectFrom('jobs').select('id').where('id', '=', other.id).execute()).toEqual([]);
  });

  it('a delete of the job waits for a transaction still inserting its tasks, then is refused', async () => {
    const client = await newClient(env.db);
    const job = await newJob(env.db, client.organizationId);
    let deleting: Promise<unknown> | undefined;
    await env.db.transaction().execute(async (trx) => {
      await trx.insertInto('tasks').values({ job_id: job.id, payload: '{}', required_annotations: 1 }).execute();
      deleting = errorOf(env.db.deleteFrom('jobs').where('id', '=', job.id).execute());
      // The delete is blocked on the job row the insert locked; give it time to get there.
      await new Promise((r) => setTimeout(r, 200));
      const waiting = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'delete from "jobs"%'`.execute(trx);
      expect(waiting.rows[0]!.n).toBe(1);
    });
    expect(await deleting).toMatchObject({ code: '23503' });
  });
});
