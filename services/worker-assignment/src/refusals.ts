import { ApiError, conflict } from '@fairlabel/http';
import { sql } from '@fairlabel/db';

/** What `wa_answer_refused` (packages/db/sql/wa_answer_refused.sql) returns when a lease may no longer take an answer or a heartbeat. */
export type AnswerRefusal = 'worker_suspended' | 'skill_suspended' | 'job_suspended' | 'task_closed';

/**
 * The columns the refusal is computed from, for a query that has the assignment `a` (its task `t`,
 * job `j`, worker `w`, the worker's skill row `ws` for the job's skill and block `jb` on the job
 * joined, as refusalJoins does): the reason, and what the error message names.
 */
export const refusalColumns = sql<string>`
  wa_answer_refused(t.status, j.status, w.status, ws.suspended_at, jb.blocked_at) AS refused,
  t.status AS task_status, j.status AS job_status, j.required_skill
`;

export interface RefusalFacts {
  refused: AnswerRefusal | null;
  task_status: string;
  job_status: string;
  required_skill: string | null;
}

/** The rows refusalColumns reads, for a query that selects from assignments `a`. */
export const refusalJoins = sql`
  JOIN tasks t ON t.id = a.task_id
  JOIN jobs j ON j.id = a.job_id
  JOIN workers w ON w.id = a.worker_id
  LEFT JOIN worker_skills ws ON ws.worker_id = a.worker_id AND ws.skill = j.required_skill
  LEFT JOIN worker_job_blocks jb ON jb.worker_id = a.worker_id AND jb.job_id = a.job_id
`;

/** The API error for a refusal: 403 for a suspension (the worker may not), 409 for a closed task (the state moved on). */
export function refusalError(f: RefusalFacts & { refused: AnswerRefusal }): ApiError {
  if (f.refused === 'worker_suspended') {
    return new ApiError(403, 'worker_suspended', 'this worker is suspended by their vendor; leases held can no longer be submitted or extended');
  }
  if (f.refused === 'skill_suspended') {
    return new ApiError(403, 'skill_suspended', `this worker is suspended from the skill ${f.required_skill ?? ''} the job requires; the lease can no longer be submitted or extended`, [
      { path: 'job.required_skill', message: `suspended from ${f.required_skill ?? 'the skill'}` },
    ]);
  }
  if (f.refused === 'job_suspended') {
    return new ApiError(403, 'job_suspended', 'this worker is suspended from this job (their gold accuracy on it fell under the job\'s floor); the lease can no longer be submitted or extended', [
      { path: 'job', message: 'suspended from this job' },
    ]);
  }
  const why =
    f.job_status === 'cancelled'
      ? 'the job was cancelled by its client'
      : f.job_status === 'completed'
        ? 'the job is completed'
        : f.task_status === 'decided'
          ? 'the task was already decided'
          : `the task is ${f.task_status}`;
  return conflict('task_closed', `${why}: this task takes no more answers and its lease has ended or will end`, [
    { path: 'task.status', message: f.task_status },
    { path: 'job.status', message: f.job_status },
  ]);
}
