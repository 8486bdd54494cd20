-- The open-slot probe, the one place it is written: a job's tasks that can take one more annotation
-- (task_slots.open_slots > 0: the task is open and fewer leased, submitted or accepted assignments
-- hold it than it requires) and that this worker never had an assignment for, in the order they are
-- handed out: task priority, highest first, then the oldest task. With p_worker_id NULL, every open
-- slot (the hinted job order).
--
-- A plain SQL function, inlined where it is called: `FROM wa_open_slots(j.id, w.id) o LIMIT 1` plans
-- as one probe of the partial index task_slots_open with an anti-join on assignments' unique
-- (task_id, worker_id), stopping at the first row. Call it with a LIMIT (or through a cursor, as
-- wa_claim's lock step does): a caller that joins it to other tables gets it planned for full
-- retrieval (a sort of every open slot of the job).
CREATE OR REPLACE FUNCTION wa_open_slots(p_job_id uuid, p_worker_id uuid)
RETURNS TABLE (task_id bigint, priority integer) LANGUAGE sql STABLE AS $f$
  SELECT s.task_id, s.priority
  FROM task_slots s
  WHERE s.job_id = p_job_id AND s.open_slots > 0
    AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = s.task_id AND a.worker_id = p_worker_id)
  ORDER BY s.priority DESC, s.task_id
$f$;
