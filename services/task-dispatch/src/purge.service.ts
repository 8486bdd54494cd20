import type { EventPayload } from '@fairlabel/contracts';
import type { Database, Db, JobStatus } from '@fairlabel/db';
import { conflict, notFound, writeAudit, type AuthContext } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import type { Clock } from '@fairlabel/runtime';
import type { Selectable } from 'kysely';

// A job's data purge, as task-dispatch runs it. It erases what task-dispatch owns (task payloads,
// predictions, gold answers, results) at once, and asks by event for the rest: the annotators'
// answers live in `assignments`, which only worker-assignment writes. worker-assignment's report
// (`job.answers_purged`) completes the record. Counts, statuses, agreement, time spent and the ledger
// stay, so reports and invoices still add up.

const PURGEABLE: readonly JobStatus[] = ['completed', 'cancelled'];

type PurgeRow = Selectable<Database['job_data_purges']>;

/** The API shape of a purge record. */
function purgeState(row: PurgeRow, alreadyRequested: boolean) {
  return {
    job_id: row.job_id,
    status: row.completed_at ? ('completed' as const) : ('pending' as const),
    requested_at: row.requested_at,
    completed_at: row.completed_at,
    tasks_purged: row.tasks_purged,
    assignments_purged: row.assignments_purged,
    already_requested: alreadyRequested,
  };
}
export type PurgeState = ReturnType<typeof purgeState>;

/**
 * Starts the purge of the caller's finished job, once: the job's row lock orders it against a
 * concurrent purge or state change of the same job, and the `job_data_purges` row makes a second
 * request return the first one's state without doing anything. Another client's job is not found; a
 * job that is not completed or cancelled is a 409 naming its status. The request is audit-logged in
 * the transaction that makes it, with the event that asks worker-assignment for the answers.
 */
export async function requestPurge(deps: { db: Db; clock: Clock }, caller: AuthContext, jobId: string): Promise<PurgeState> {
  return deps.db.transaction().execute(async (trx) => {
    const job = await trx
      .selectFrom('jobs')
      .select(['id', 'status'])
      .where('id', '=', jobId)
      .where('client_id', '=', caller.organizationId)
      .forUpdate()
      .executeTakeFirst();
    if (!job) throw notFound('job');
    const earlier = await trx.selectFrom('job_data_purges').selectAll().where('job_id', '=', job.id).executeTakeFirst();
    if (earlier) return purgeState(earlier, true);
    if (!PURGEABLE.includes(job.status)) {
      throw conflict('job_not_finished', `only a completed or cancelled job's data can be purged; this job is ${job.status}`, [
        { path: 'status', message: job.status },
      ]);
    }
    const tasks = await trx
      .updateTable('tasks')
      .set({ payload: null, prediction: null, gold: null, result: null })
      .where('job_id', '=', job.id)
      .executeTakeFirst();
    const row = await trx
      .insertInto('job_data_purges')
      .values({ job_id: job.id, actor_key_id: caller.keyId, tasks_purged: Number(tasks.numUpdatedRows), assignments_purged: null, requested_at: deps.clock.now(), completed_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    await publish(trx, 'job.data_purge_requested', { job_id: job.id, client_id: caller.organizationId });
    await writeAudit(trx, caller, {
      action: 'job.data_purged',
      resourceType: 'job',
      resourceId: job.id,
      details: { tasks_purged: row.tasks_purged, assignments: 'erasure requested' },
    });
    return purgeState(row, false);
  });
}

/** The state of the purge of the caller's job; 404 when the job is not theirs or no purge was requested. */
export async function getPurge(db: Db, clientId: string, jobId: string): Promise<PurgeState> {
  const row = await db
    .selectFrom('job_data_purges as p')
    .innerJoin('jobs as j', 'j.id', 'p.job_id')
    .selectAll('p')
    .where('p.job_id', '=', jobId)
    .where('j.client_id', '=', clientId)
    .executeTakeFirst();
  if (!row) throw notFound('data purge');
  return purgeState(row, false);
}

/**
 * worker-assignment reports the job's answers erased: the purge completes with its count. Only a
 * pending purge changes, so a redelivered report is a no-op (and worker-assignment reports a job
 * once, so there is never a second, different count). Returns whether this call completed it.
 */
export async function completePurge(deps: { db: Db; clock: Clock }, payload: EventPayload<'job.answers_purged'>): Promise<boolean> {
  const done = await deps.db
    .updateTable('job_data_purges')
    .set({ assignments_purged: payload.assignments_purged, completed_at: deps.clock.now() })
    .where('job_id', '=', payload.job_id)
    .where('completed_at', 'is', null)
    .executeTakeFirst();
  return Number(done.numUpdatedRows) === 1;
}
