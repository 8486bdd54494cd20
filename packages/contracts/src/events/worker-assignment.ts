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

/** Events the `worker-assignment` queue consumes. */
export const workerAssignmentSubscribes: string[] = [];
