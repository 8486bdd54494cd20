-- requires: wa_open_slots.sql
-- The jobs a worker may claim in, best first, at most ${WA_CLAIM_BATCH}: the eligibility rules that
-- depend on the job (wa_claim.sql lists them all), and per surviving job the first open slot this
-- worker has not done (wa_open_slots), which also orders jobs of equal priority. No locks are taken.
-- p_excluded: jobs already tried by this claim; p_only: when not null, only these jobs (a batch of the
-- hinted order). A plain SQL function, so the planner inlines it into the query that calls it. The
-- fair-share path of claim.service.ts calls it directly, then wa_claim with the jobs fair share allows.
CREATE OR REPLACE FUNCTION wa_claim_candidates(p_worker_id uuid, p_vendor_id uuid, p_excluded uuid[], p_only uuid[])
RETURNS TABLE (job_id uuid, share_cap float8) LANGUAGE sql STABLE AS $f$
  SELECT j.id, (j.vendor_share_caps ->> p_vendor_id::text)::float8
  FROM workers w
  JOIN jobs j ON j.status = 'active'
  LEFT JOIN worker_skills ws ON ws.worker_id = w.id AND ws.skill = j.required_skill
  CROSS JOIN LATERAL (SELECT o.priority, o.task_id FROM wa_open_slots(j.id, w.id) o LIMIT 1) best
  WHERE w.id = p_worker_id AND w.vendor_id = p_vendor_id
    AND (j.vendor_allowlist IS NULL OR p_vendor_id = ANY (j.vendor_allowlist))
    AND (j.allowed_regions IS NULL OR w.region_country::text = ANY (j.allowed_regions)
         OR w.region_country || coalesce('-' || w.region_province, '') = ANY (j.allowed_regions))
    AND (j.required_skill IS NULL OR (ws.level >= j.min_level AND ws.suspended_at IS NULL))
    AND j.id <> ALL (p_excluded)
    AND (p_only IS NULL OR j.id = ANY (p_only))
  ORDER BY j.priority DESC, best.priority DESC, j.deadline ASC NULLS LAST, best.task_id
  LIMIT ${WA_CLAIM_BATCH}
$f$;
