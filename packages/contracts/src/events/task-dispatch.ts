import { z } from 'zod';

// Events that task-dispatch produces, and the ones its queues (task-dispatch, webhooks) consume.
export const taskDispatchEvents = {
  'job.activated': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  /** Every task of the job is decided; published once, by the transaction that completes the job. */
  'job.completed': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  /** The client cancelled the job: its open tasks will not be worked. */
  'job.cancelled': z.object({ job_id: z.uuid(), client_id: z.uuid() }),
  'tasks.imported': z.object({ job_id: z.uuid(), client_id: z.uuid(), created: z.number().int().nonnegative() }),
};

/** Events the `task-dispatch` queue consumes. */
export const taskDispatchSubscribes: string[] = ['task.decided'];
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
