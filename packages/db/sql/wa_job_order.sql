-- requires: wa_open_slots.sql
-- Every active job with an open slot, in claim order (see wa_claim.sql: job priority, then its best
-- open task's priority, then deadline, then the oldest task). worker-assignment keeps this list per
-- process for a second (job-order.ts) as the claim's hint of which jobs to probe first; it is never
-- the truth, the claim re-checks every rule.
CREATE OR REPLACE FUNCTION wa_job_order()
RETURNS TABLE (job_id uuid) LANGUAGE sql STABLE AS $f$
  SELECT j.id
  FROM jobs j
  CROSS JOIN LATERAL (SELECT o.priority, o.task_id FROM wa_open_slots(j.id, NULL) o LIMIT 1) head
  WHERE j.status = 'active'
  ORDER BY j.priority DESC, head.priority DESC, j.deadline ASC NULLS LAST, head.task_id
$f$;
