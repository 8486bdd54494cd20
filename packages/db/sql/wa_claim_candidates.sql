-- The best open task of each job a worker may work, best job first, at most 8. Job-level rules
-- (active, vendor allowed, region allowed, skill level, skill not suspended) filter the active
-- jobs; per surviving job one probe of the partial index task_slots_open finds the first task
-- with an open slot this worker has not done. No locks are taken. A plain SQL function, so the
-- planner inlines it into the query that calls it.
CREATE OR REPLACE FUNCTION wa_claim_candidates(p_worker_id uuid, p_vendor_id uuid, p_excluded uuid[], p_only uuid[])
RETURNS TABLE (job_id uuid, share_cap float8) LANGUAGE sql STABLE AS $f$
  SELECT j.id, (j.vendor_share_caps ->> p_vendor_id::text)::float8
  FROM workers w
  JOIN jobs j ON j.status = 'active'
  LEFT JOIN worker_skills ws ON ws.worker_id = w.id AND ws.skill = j.required_skill
  CROSS JOIN LATERAL (
    SELECT s.priority, s.task_id
    FROM task_slots s
    WHERE s.job_id = j.id AND s.open_slots > 0
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = s.task_id AND a.worker_id = w.id)
    ORDER BY s.priority DESC, s.task_id
    LIMIT 1
  ) best
  WHERE w.id = p_worker_id AND w.vendor_id = p_vendor_id
    AND (j.vendor_allowlist IS NULL OR p_vendor_id = ANY (j.vendor_allowlist))
    AND (j.allowed_regions IS NULL OR w.region_country::text = ANY (j.allowed_regions)
         OR w.region_country || coalesce('-' || w.region_province, '') = ANY (j.allowed_regions))
    AND (j.required_skill IS NULL OR (ws.level >= j.min_level AND ws.suspended_at IS NULL))
    AND j.id <> ALL (p_excluded)
    AND (p_only IS NULL OR j.id = ANY (p_only))
  ORDER BY j.priority DESC, best.priority DESC, j.deadline ASC NULLS LAST, best.task_id
  LIMIT 8
$f$;
