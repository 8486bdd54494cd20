import { z } from 'zod';

// Events that task-dispatch produces, and the ones its queues (task-dispatch, webhooks) consume.
export const taskDispatchEvents = {
  'job.activated': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  /** Every task of the job is decided; published once, by the transaction that completes the job. */
  'job.completed': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  /** The client cancelled the job: its open tasks will not be worked. */
  'job.cancelled': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  'tasks.imported': z.object({ job_id: z.uuid(), client_id: z.uuid(), created: z.number().int().nonnegative() }),
  /**
   * The client asked to purge a finished job's data. task-dispatch has erased the task data already;
   * each service holding more of the job's data erases its own and reports back (worker-assignment:
   * `job.answers_purged`). Published once per job, by the transaction that records the request.
   */
  'job.data_purge_requested': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
};

/** Events the `task-dispatch` queue consumes. */
export const taskDispatchSubscribes: string[] = ['task.decided', 'job.answers_purged', 'task.overlap_requested'];
/** Events the `webhooks` queue consumes (turned into deliveries to registered endpoints). */
export const webhooksSubscribes: string[] = [
  'job.activated',
  'job.completed',
  'job.cancelled',
  'tasks.imported',
  'task.decided',
  'assignment.submitted',
  'assignment.expired',
  'assignment.released',
];
