import { sql, type Db } from '@fairlabel/db';

/** Review outcomes and appeals of a job, for its QA report (GET /v1/jobs/:id/qa `reviews`). */
export async function reviewSummary(db: Db, jobId: string) {
  const r = await sql<{ sampled: number; open: number; accepted: number; rejected: number; corrected: number; a_pending: number; a_upheld: number; a_denied: number }>`
    SELECT count(*)::int AS sampled,
           count(*) FILTER (WHERE r.status <> 'completed')::int AS open,
           count(*) FILTER (WHERE r.outcome = 'accepted')::int AS accepted,
           count(*) FILTER (WHERE r.outcome = 'rejected')::int AS rejected,
           count(*) FILTER (WHERE r.outcome = 'corrected')::int AS corrected,
           (SELECT count(*) FILTER (WHERE p.status = 'pending') FROM qa_appeals p WHERE p.job_id = ${jobId})::int AS a_pending,
           (SELECT count(*) FILTER (WHERE p.status = 'upheld') FROM qa_appeals p WHERE p.job_id = ${jobId})::int AS a_upheld,
           (SELECT count(*) FILTER (WHERE p.status = 'denied') FROM qa_appeals p WHERE p.job_id = ${jobId})::int AS a_denied
    FROM qa_reviews r WHERE r.job_id = ${jobId}`.execute(db);
  const x = r.rows[0]!;
  return {
    sampled: x.sampled, open: x.open, accepted: x.accepted, rejected: x.rejected, corrected: x.corrected,
    appeals: { pending: x.a_pending, upheld: x.a_upheld, denied: x.a_denied },
  };
}
