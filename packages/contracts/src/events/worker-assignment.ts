import { z } from 'zod';

// Events that worker-assignment produces, and the ones its queue consumes.
const assignmentRef = {
  assignment_id: z.number().int().positive(),
  task_id: z.number().int().positive(),
  job_id: z.uuid(),
  worker_id: z.uuid(),
  vendor_id: z.uuid(),
};

export const workerAssignmentEvents = {
  'assignment.submitted': z.object(assignmentRef),
  'assignment.expired': z.object(assignmentRef),
  'assignment.released': z.object({ ...assignmentRef, reason: z.string() }),
};

/**
 * Events the `worker-assignment` queue consumes: each means new or freed slots, so the consumer wakes
 * the workers long-polling for a claim. (Expiry and release also wake them directly after commit; the
 * event is the durable path when that message is lost.)
 */
export const workerAssignmentSubscribes: string[] = ['job.activated', 'tasks.imported', 'assignment.expired', 'assignment.released'];
