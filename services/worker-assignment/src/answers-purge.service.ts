import type { EventPayload } from '@fairlabel/contracts';
import type { Db } from '@fairlabel/db';
import { publish } from '@fairlabel/queues';
import type { Clock } from '@fairlabel/runtime';
import { endLiveLeases, JOB_DATA_PURGED_REASON } from './leases.service.js';

/**
 * Erases the answers of a job's assignments for the client's data purge (`job.data_purge_requested`,
 * from task-dispatch, which has already erased the task data) and reports how many by
 * `job.answers_purged`, in the transaction that erased them. Statuses, time spent and every other
 * column stay, so pay, QA history and reports still add up.
 *
 * Once per job: the `assignment_answer_purges` row is written first, so a concurrent duplicate
 * delivery waits on its key and then finds it taken, and a redelivery after commit does nothing and
 * publishes nothing (the report is already in the outbox). Returns the count, or null for a repeat.
 */
export async function purgeJobAnswers(deps: { db: Db; clock: Clock }, request: EventPayload<'job.data_purge_requested'>): Promise<number | null> {
  return deps.db.transaction().execute(async (trx) => {
    const first = await trx
      .insertInto('assignment_answer_purges')
      .values({ job_id: request.job_id, answers_erased: 0, erased_at: deps.clock.now() })
      .onConflict((oc) => oc.column('job_id').doNothing())
      .returning('job_id')
      .executeTakeFirst();
    if (!first) return null;
    // Leases still live (the job.cancelled event not handled yet) end first: their row locks wait for
    // a submit in flight, and the erase below, a later statement, then sees its answer; a submit after
    // this finds the lease released.
    await endLiveLeases(trx, request.job_id, JOB_DATA_PURGED_REASON, deps.clock.now(), null, ['cancelled', 'completed']);
    const erased = await trx.updateTable('assignments').set({ answer: null }).where('job_id', '=', request.job_id).where('answer', 'is not', null).executeTakeFirst();
    const count = Number(erased.numUpdatedRows);
    await trx.updateTable('assignment_answer_purges').set({ answers_erased: count }).where('job_id', '=', request.job_id).execute();
    await publish(trx, 'job.answers_purged', { job_id: request.job_id, client_id: request.client_id, assignments_purged: count });
    return count;
  });
}
