import { errorResponses, idParamsSchema, jobDataPurgeSchema } from '@fairlabel/contracts';
import { callerOf, conflict, notFound, writeAudit, type FastifyPluginAsyncZod } from '@fairlabel/http';

const PURGEABLE = ['completed', 'cancelled'];

export const purgeRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, clock } = app.deps;

  app.delete(
    '/jobs/:id/data',
    {
      config: { roles: ['client'] },
      schema: {
        operationId: 'purgeJobData',
        tags: ['jobs'],
        summary: "Purge a finished job's data",
        description:
          'On a completed or cancelled job: removes task payloads, predictions, gold answers, final results and every annotator answer. ' +
          'Counts, statuses, agreement, time spent and the ledger stay, so reports and invoices still add up. Audit-logged; a second call changes nothing.',
        params: idParamsSchema,
        response: { 200: jobDataPurgeSchema, ...errorResponses(409) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return db.transaction().execute(async (trx) => {
        // The row lock orders this purge against a concurrent purge or state change of the same job.
        const job = await trx
          .selectFrom('jobs')
          .select(['id', 'status'])
          .where('id', '=', request.params.id)
          .where('client_id', '=', caller.organizationId)
          .forUpdate()
          .executeTakeFirst();
        if (!job) throw notFound('job');
        const earlier = await trx.selectFrom('job_data_purges').selectAll().where('job_id', '=', job.id).executeTakeFirst();
        if (earlier) {
          return {
            job_id: job.id,
            purged_at: earlier.purged_at,
            tasks_purged: earlier.tasks_purged,
            assignments_purged: earlier.assignments_purged,
            already_purged: true,
          };
        }
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
        const assignments = await trx
          .updateTable('assignments')
          .set({ answer: null })
          .where('job_id', '=', job.id)
          .where('answer', 'is not', null)
          .executeTakeFirst();
        const purgedAt = clock.now();
        const record = {
          job_id: job.id,
          actor_key_id: caller.keyId,
          tasks_purged: Number(tasks.numUpdatedRows),
          assignments_purged: Number(assignments.numUpdatedRows),
          purged_at: purgedAt,
        };
        await trx.insertInto('job_data_purges').values(record).execute();
        await writeAudit(trx, caller, {
          action: 'job.data_purged',
          resourceType: 'job',
          resourceId: job.id,
          details: { tasks_purged: record.tasks_purged, assignments_purged: record.assignments_purged },
        });
        return { job_id: job.id, purged_at: purgedAt, tasks_purged: record.tasks_purged, assignments_purged: record.assignments_purged, already_purged: false };
      });
    },
  );
};
