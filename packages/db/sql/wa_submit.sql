-- requires: wa_answer_refused.sql
-- The submit of a valid answer by the holder of a live lease, in one statement: the lease becomes
-- 'submitted' and, only if it did, the event's outbox rows (built and validated by @fairlabel/queues)
-- are written and the relay is notified, atomically. It matches only when wa_answer_refused finds no
-- reason to refuse (worker, skill or job suspended, task closed, job cancelled or completed). No row back
-- means "not that simple": the caller then runs the ordered checks (submit.service.ts, submitChecked),
-- which say why with the right error.
CREATE OR REPLACE FUNCTION wa_submit(p_id bigint, p_worker_id uuid, p_now timestamptz, p_answer jsonb, p_time_spent_ms integer,
                          p_task_id bigint, p_job_id uuid, p_vendor_id uuid, p_outbox jsonb, p_channel text)
RETURNS SETOF assignments LANGUAGE plpgsql SET enable_seqscan = off AS $f$
DECLARE
  submitted assignments;
BEGIN
  -- The task's payload is only ever cleared (a purge), never changed: while it is there, the answer
  -- context the caller validated against is still the task's.
  UPDATE assignments a
  SET status = 'submitted', answer = p_answer, time_spent_ms = p_time_spent_ms, submitted_at = p_now, ended_at = p_now
  -- Each table is pinned by its key from a parameter, so the cached generic plan is key lookups
  -- (joined on each other's columns, it planned a scan of every job).
  FROM tasks t
  CROSS JOIN jobs j
  CROSS JOIN workers w
  LEFT JOIN worker_skills ws ON ws.worker_id = w.id AND ws.skill = j.required_skill
  LEFT JOIN worker_job_blocks jb ON jb.worker_id = p_worker_id AND jb.job_id = p_job_id
  WHERE a.id = p_id AND a.worker_id = p_worker_id AND a.status = 'leased' AND a.lease_expires_at > p_now
    AND a.task_id = p_task_id AND a.job_id = p_job_id AND a.vendor_id = p_vendor_id
    AND t.id = p_task_id AND t.payload IS NOT NULL AND j.id = p_job_id AND w.id = p_worker_id
    AND wa_answer_refused(t.status, j.status, w.status, ws.suspended_at, jb.blocked_at) IS NULL
  RETURNING a.* INTO submitted;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO outbox (event, queue, payload)
  SELECT o.event, o.queue, o.payload FROM jsonb_to_recordset(p_outbox) AS o(event text, queue text, payload jsonb);
  PERFORM pg_notify(p_channel, '');
  RETURN NEXT submitted;
END $f$;
