import { z } from 'zod';

// Events that qa-sampling produces, and the ones its queue consumes. qa-sampling owns its own tables
// only: it changes assignments (worker-assignment), tasks (task-dispatch) and skills (worker-assignment)
// by these events, and settlement pays from them.

const id = z.number().int().positive();

export const qaSamplingEvents = {
  /**
   * QA decided one assignment. `decision_id` is QA's decision row (unique): a redelivery carries the same
   * one. An upheld appeal is a new decision that names the one it supersedes; nothing is ever deleted.
   * `worker_level` is the worker's level in the job's skill when decided (it sets the pay multiplier).
   */
  'assignment.decided': z.object({
    decision_id: id,
    assignment_id: id,
    task_id: id,
    job_id: z.uuid(),
    client_id: z.uuid(),
    worker_id: z.uuid(),
    vendor_id: z.uuid(),
    outcome: z.enum(['accepted', 'rejected']),
    kind: z.enum(['annotation', 'gold', 'verify']),
    worker_level: z.number().int().min(1).max(5).nullable(),
    supersedes_decision_id: id.nullable(),
    decided_at: z.iso.datetime({ offset: true }),
  }),
  /**
   * A task's result is final: consensus reached (or gold/automation decided it). The result itself is
   * in QA's decision row `decision_id`; task-dispatch copies it into the task. `automated`: a model's
   * prediction was accepted with no human (settlement charges the automation price); absent means false.
   */
  'task.decided': z.object({
    task_id: id,
    job_id: z.uuid(),
    client_id: z.uuid(),
    decision_id: id.optional(),
    agreement: z.number().min(0).max(1).nullable(),
    automated: z.boolean().optional(),
    accepted_assignment_ids: z.array(id),
    rejected_assignment_ids: z.array(id),
    /** When QA decided (settlement dates the client's charge by it; absent: when settlement posts it). */
    decided_at: z.iso.datetime({ offset: true }).optional(),
  }),
  /** Low agreement: the task needs more annotations (dynamic overlap), up to the job's maximum. */
  'task.overlap_requested': z.object({
    task_id: id,
    job_id: z.uuid(),
    required_annotations: z.number().int().positive(),
  }),
  /** QA promoted a worker in a skill, suspended them from it, or reinstated them, with its evidence. */
  'worker.skill_changed': z.object({
    worker_id: z.uuid(),
    vendor_id: z.uuid(),
    skill: z.string().min(1),
    action: z.enum(['promote', 'suspend', 'reinstate']),
    from_level: z.number().int().min(1).max(5).nullable(),
    to_level: z.number().int().min(1).max(5).nullable(),
    evidence: z.record(z.string(), z.unknown()),
  }),
  /**
   * QA suspended a worker from one job (a job without a required skill: its gold is recorded on `*`,
   * shared by every such job, so the suspension is scoped to the job whose gold fell under its floor),
   * with its evidence. worker-assignment blocks the job for the worker (claim, submit, heartbeat).
   */
  'worker.job_suspended': z.object({
    worker_id: z.uuid(),
    vendor_id: z.uuid(),
    job_id: z.uuid(),
    evidence: z.record(z.string(), z.unknown()),
  }),
  /** A reviewer finished reviewing an assignment (review work is paid at the job's review rate). */
  'review.completed': z.object({
    review_id: id,
    reviewer_worker_id: z.uuid(),
    reviewer_vendor_id: z.uuid(),
    assignment_id: id,
    job_id: z.uuid(),
    client_id: z.uuid(),
    outcome: z.enum(['accepted', 'rejected', 'corrected']),
    completed_at: z.iso.datetime({ offset: true }),
    /** The reviewer's working time on it: counts toward their hours for pay floors (absent: not counted). */
    time_spent_ms: z.number().int().min(0).max(86_400_000).optional(),
  }),
};

/** Events the `qa-sampling` queue consumes. */
export const qaSamplingSubscribes: string[] = ['assignment.submitted', 'job.activated', 'tasks.imported'];
