import { z } from 'zod';

// Events that qa-sampling produces, and the ones its queue consumes.
export const qaSamplingEvents = {
  /** A task's result is final: consensus reached (or gold/automation decided it). */
  'task.decided': z.object({
    task_id: z.number().int().positive(),
    job_id: z.uuid(),
    client_id: z.uuid(),
    agreement: z.number().min(0).max(1).nullable(),
    accepted_assignment_ids: z.array(z.number().int().positive()),
    rejected_assignment_ids: z.array(z.number().int().positive()),
  }),
};

/** Events the `qa-sampling` queue consumes. */
export const qaSamplingSubscribes: string[] = ['assignment.submitted'];
