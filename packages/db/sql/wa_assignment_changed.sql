-- requires: wa_assignment_takes_slot.sql
-- An assignment entering or leaving a slot-taking state moves the task's open slots and, for capped
-- vendors only (the row exists), the vendor's usage. The claim has the task_slots row locked already,
-- so this never waits there.
CREATE OR REPLACE FUNCTION wa_assignment_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  delta integer := (CASE WHEN wa_assignment_takes_slot(NEW.status) THEN 1 ELSE 0 END)
    - (CASE WHEN TG_OP = 'UPDATE' AND wa_assignment_takes_slot(OLD.status) THEN 1 ELSE 0 END);
BEGIN
  IF delta <> 0 THEN
    UPDATE task_slots s SET open_slots = CASE WHEN t.status = 'open' AND t.gold IS NULL THEN greatest(s.open_slots - delta, 0) ELSE 0 END
    FROM tasks t WHERE s.task_id = NEW.task_id AND t.id = NEW.task_id;
    UPDATE job_vendor_usage SET held = greatest(held + delta, 0) WHERE job_id = NEW.job_id AND vendor_id = NEW.vendor_id;
  END IF;
  RETURN NULL;
END $f$;

CREATE OR REPLACE TRIGGER assignments_slots_insert AFTER INSERT ON assignments FOR EACH ROW EXECUTE FUNCTION wa_assignment_changed();
CREATE OR REPLACE TRIGGER assignments_slots_update AFTER UPDATE OF status ON assignments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION wa_assignment_changed();
