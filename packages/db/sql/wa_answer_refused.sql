-- Why a lease may no longer take an answer (or be extended), or NULL when it may. Both submit paths
-- (wa_submit, and the ordered checks of submit.service.ts) and the heartbeat ask this one function, so
-- the rule has one place:
--   'worker_suspended'  the worker's vendor suspended them (workers.status);
--   'skill_suspended'   the worker is suspended from the job's required skill (worker_skills.suspended_at);
--   'job_suspended'     the worker is suspended from this job (worker_job_blocks: QA's suspension from a job
--                       without a required skill, whose gold is shared by every such job);
--   'task_closed'       the task is no longer open (decided or cancelled), or the job is neither active
--                       nor paused (cancelled or completed: its data may be purged). A paused job still
--                       takes the answers of leases granted before the pause ("leases already granted
--                       run out normally"): pausing stops new claims, not work in hand.
-- Immutable and without sub-queries, so the planner inlines it into the statement that calls it.
CREATE OR REPLACE FUNCTION wa_answer_refused(p_task_status text, p_job_status text, p_worker_status text, p_skill_suspended_at timestamptz, p_job_blocked_at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE
    WHEN p_worker_status IS DISTINCT FROM 'active' THEN 'worker_suspended'
    WHEN p_skill_suspended_at IS NOT NULL THEN 'skill_suspended'
    WHEN p_job_blocked_at IS NOT NULL THEN 'job_suspended'
    WHEN p_task_status IS DISTINCT FROM 'open' OR p_job_status NOT IN ('active', 'paused') OR p_job_status IS NULL THEN 'task_closed'
  END
$f$;
