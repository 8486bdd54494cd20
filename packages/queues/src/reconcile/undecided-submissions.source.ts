import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import { defaultJobOptions } from '../queue-set.js';
import { rowsWithoutJob } from './missing-jobs.js';
import type { ReconcileSource } from './reconciler.js';

/** A submission QA has not recorded this long after it was made is treated as lost (the normal path takes well under a second). */
export const UNDECIDED_SUBMISSION_GRACE_MS = 5 * 60_000;

/** The deterministic id of a re-published submission's job on the qa-sampling queue. */
export const undecidedSubmissionJobId = (assignmentId: number) => `qa-${assignmentId}`;

/**
 * qa-sampling's truth: every submitted assignment is recorded by QA (qa_submissions, written in the
 * transaction that also decides whatever the submission completes). A submitted assignment QA has not
 * recorded after a grace period lost its `assignment.submitted` somewhere the outbox source cannot see
 * (a row older than the outbox window, a job failed for good, an event consumed whose effect was lost),
 * and is re-added to the qa-sampling queue as job `qa-<assignment id>`; the consumer is idempotent, so
 * one that was merely slow is recorded once. A recorded submission waiting for its task's other
 * annotations is not "lost" and is left alone.
 */
export function undecidedSubmissionsSource(opts?: { redis: Redis; prefix: string; graceMs?: number; batchSize?: number }): ReconcileSource {
  const queue = opts ? new Queue('qa-sampling', { connection: opts.redis, prefix: opts.prefix, defaultJobOptions }) : null;
  const graceMs = opts?.graceMs ?? UNDECIDED_SUBMISSION_GRACE_MS;
  const batchSize = opts?.batchSize ?? 1000;
  return {
    kind: 'undecided_submission',
    async repair({ db, now }) {
      if (!queue || !opts) return 0;
      let repaired = 0;
      let after = 0;
      const cutoff = new Date(now.getTime() - graceMs);
      for (;;) {
        const rows = await unrecorded(db, cutoff, after, batchSize);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.assignment_id;
        const missing = await rowsWithoutJob(opts.redis, queue, rows, (r) => undecidedSubmissionJobId(r.assignment_id));
        if (missing.length) {
          await queue.addBulk(missing.map((r) => ({ name: 'assignment.submitted', data: r, opts: { jobId: undecidedSubmissionJobId(r.assignment_id) } })));
        }
        repaired += missing.length;
        if (rows.length < batchSize) break;
      }
      return repaired;
    },
    close: async () => {
      await queue?.close();
    },
  };
}

async function unrecorded(db: Db, cutoff: Date, after: number, limit: number) {
  const rows = await sql<{ assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string }>`
    SELECT a.id AS assignment_id, a.task_id, a.job_id, a.worker_id, a.vendor_id
    FROM assignments a
    WHERE a.status = 'submitted' AND a.submitted_at < ${cutoff} AND a.id > ${after}
      AND NOT EXISTS (SELECT 1 FROM qa_submissions s WHERE s.assignment_id = a.id)
    ORDER BY a.id
    LIMIT ${limit}`.execute(db);
  return rows.rows;
}
