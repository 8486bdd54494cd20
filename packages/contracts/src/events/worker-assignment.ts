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
  /**
   * The answers of a job's assignments are erased, for its `job.data_purge_requested`: published once
   * per job, by the transaction that erased them, with how many there were.
   */
  'job.answers_purged': z.object({ job_id: z.uuid(), client_id: z.uuid(), assignments_purged: z.number().int().nonnegative() }),
};

/**
 * Events the `worker-assignment` queue consumes. The first four mean new or freed slots, so the
 * consumer wakes the workers long-polling for a claim (expiry and release also wake them directly
 * after commit; the event is the durable path when that message is lost). `job.data_purge_requested`
 * asks it to erase the job's answers, which only it may write. `job.cancelled` ends the job's live
 * leases (released, reason `job_cancelled`).
 */
export const workerAssignmentSubscribes: string[] = [
  'job.activated',
  'tasks.imported',
  'assignment.expired',
  'assignment.released',
  'job.data_purge_requested',
  'job.cancelled',
  // QA's verdicts on what worker-assignment owns: an assignment accepted or rejected, a worker's level or suspension in a skill,
  // a worker's suspension from one job.
  'assignment.decided',
  'worker.skill_changed',
  'worker.job_suspended',
];
