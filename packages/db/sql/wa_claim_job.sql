-- requires: wa_open_slots.sql
-- One job as a worker's candidate: the eligibility rules that depend on the job (wa_claim.sql, rule 2 —
-- written here only) and, if it passes, the job's first open slot this worker has not done
-- (wa_open_slots), with the claim-order key of that pair (rule 5: job priority, task priority, deadline,
-- task id). No row: not eligible, or nothing open for this worker. No locks are taken.
--
-- A plain SQL function with the job pinned by its key, so the planner inlines it as four key lookups
-- (worker, job, skill, job block) and one probe of task_slots_open: wa_claim calls it one job at a time as it walks
-- the hinted order (the lazy probe), and wa_claim_candidates over every active job for the full search.
CREATE OR REPLACE FUNCTION wa_claim_job(p_worker_id uuid, p_vendor_id uuid, p_job_id uuid)
RETURNS TABLE (job_id uuid, share_cap float8, job_priority integer, task_priority integer, deadline timestamptz, task_id bigint)
LANGUAGE sql STABLE AS $f$
  SELECT j.id, (j.vendor_share_caps ->> p_vendor_id::text)::float8, j.priority, best.priority, j.deadline, best.task_id
  FROM workers w
  JOIN jobs j ON j.id = p_job_id
  LEFT JOIN worker_skills ws ON ws.worker_id = w.id AND ws.skill = j.required_skill
  CROSS JOIN LATERAL (SELECT o.priority, o.task_id FROM wa_open_slots(j.id, w.id) o LIMIT 1) best
  WHERE w.id = p_worker_id AND w.vendor_id = p_vendor_id
    AND j.status = 'active'
    AND (j.vendor_allowlist IS NULL OR p_vendor_id = ANY (j.vendor_allowlist))
    AND (j.allowed_regions IS NULL OR w.region_country::text = ANY (j.allowed_regions)
         OR w.region_country || coalesce('-' || w.region_province, '') = ANY (j.allowed_regions))
    AND (j.required_skill IS NULL OR (ws.level >= j.min_level AND ws.suspended_at IS NULL))
    -- Not suspended from this job (QA's suspension from a job without a required skill).
    AND NOT EXISTS (SELECT 1 FROM worker_job_blocks b WHERE b.worker_id = p_worker_id AND b.job_id = p_job_id)
$f$;
