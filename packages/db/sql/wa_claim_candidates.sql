-- requires: wa_claim_job.sql
-- The jobs a worker may claim in, best first (rule 5 of wa_claim.sql), at most ${WA_CLAIM_BATCH}: every
-- active job passed through wa_claim_job (the job-level eligibility rules and the first open slot this
-- worker has not done, which also orders jobs of equal priority). No locks are taken.
-- p_excluded: jobs already tried by this claim; p_only: when not null, only these jobs. A plain SQL
-- function, so the planner inlines it into the query that calls it. It probes every job it is given, so
-- it serves the full search of wa_claim (the hinted jobs are walked lazily there instead) and the
-- fair-share path of claim.service.ts, which calls it directly, then wa_claim with the jobs fair share
-- allows.
CREATE OR REPLACE FUNCTION wa_claim_candidates(p_worker_id uuid, p_vendor_id uuid, p_excluded uuid[], p_only uuid[])
RETURNS TABLE (job_id uuid, share_cap float8) LANGUAGE sql STABLE AS $f$
  SELECT c.job_id, c.share_cap
  FROM jobs j
  CROSS JOIN LATERAL wa_claim_job(p_worker_id, p_vendor_id, j.id) c
  WHERE j.status = 'active'
    AND j.id <> ALL (p_excluded)
    AND (p_only IS NULL OR j.id = ANY (p_only))
  ORDER BY c.job_priority DESC, c.task_priority DESC, c.deadline ASC NULLS LAST, c.task_id
  LIMIT ${WA_CLAIM_BATCH}
$f$;
