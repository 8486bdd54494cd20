import { sql, type Database } from '@fairlabel/db';
import type { Transaction } from 'kysely';
import { shouldReview } from '../quality/sampling.js';
import type { DecisionJob, SubmissionContext } from '../decisions/decide.service.js';

type Trx = Transaction<Database>;

/**
 * Whether a job's submission goes to review: sha256(job id, assignment id) under the job's
 * review_sample_rate (quality/sampling.ts). Seeded by the job, so the same submission is sampled the
 * same way on every replica and every redelivery, and two jobs' samples are independent.
 */
export function sampledForReview(jobId: string, assignmentId: number, rate: number): boolean {
  return shouldReview(jobId, String(assignmentId), rate);
}

/**
 * Called by the consumer (decide.service) in the transaction that records the submissions: the
 * sampled ones get a pending qa_reviews row (once: the assignment is its key). A sampled submission
 * still counts toward its task's consensus; the review's outcome then decides the assignment, over
 * (superseding) whatever consensus decided. Gold answers are never sampled (gold decides them).
 */
export async function sampleReviews(trx: Trx, subs: readonly SubmissionContext[], jobs: ReadonlyMap<string, DecisionJob>): Promise<number> {
  const sampled = subs.filter((s) => {
    const job = jobs.get(s.jobId)!;
    return s.submitted && sampledForReview(s.jobId, s.assignmentId, job.policy.reviewSampleRate);
  });
  if (sampled.length === 0) return 0;
  const rows = sampled.map((s) => ({ assignment_id: s.assignmentId, task_id: s.taskId, job_id: s.jobId, client_id: jobs.get(s.jobId)!.clientId, worker_id: s.workerId, vendor_id: s.vendorId }));
  const res = await sql<{ id: number }>`
    INSERT INTO qa_reviews (assignment_id, task_id, job_id, client_id, worker_id, vendor_id)
    SELECT r.assignment_id, r.task_id, r.job_id, r.client_id, r.worker_id, r.vendor_id
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(assignment_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid, vendor_id uuid)
    ORDER BY r.assignment_id
    ON CONFLICT (assignment_id) DO NOTHING
    RETURNING id`.execute(trx);
  return res.rows.length;
}
