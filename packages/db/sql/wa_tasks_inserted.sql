-- requires: wa_assignment_takes_slot.sql
-- New tasks get their task_slots row (open slots = required annotations while open) and add to their
-- job's total slots, the denominator of vendor share caps. Once per statement: an import of a million
-- rows runs it once.
CREATE OR REPLACE FUNCTION wa_tasks_inserted() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO task_slots (task_id, job_id, priority, open_slots)
  -- Gold items never have open slots: the claim offers them by its gold rule (wa_claim.sql rule 8).
  SELECT id, job_id, priority, CASE WHEN status = 'open' AND gold IS NULL THEN required_annotations ELSE 0 END FROM new_tasks;
  INSERT INTO job_slot_totals AS t (job_id, total_slots)
  SELECT job_id, sum(required_annotations) FROM new_tasks GROUP BY job_id
  ON CONFLICT (job_id) DO UPDATE SET total_slots = t.total_slots + excluded.total_slots;
  RETURN NULL;
END $f$;

CREATE OR REPLACE TRIGGER tasks_slots_insert AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION wa_tasks_inserted();
