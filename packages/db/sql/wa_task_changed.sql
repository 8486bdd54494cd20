-- requires: wa_assignment_takes_slot.sql
-- A task's status, overlap or priority changed: its open slots are recomputed from the assignments
-- rather than moved by a delta, so they are right whatever changed (a cancelled or decided task has
-- none; QA raising the overlap opens more). Gold items have none (wa_claim.sql rule 8).
CREATE OR REPLACE FUNCTION wa_task_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  UPDATE task_slots SET
    priority = NEW.priority,
    open_slots = CASE WHEN NEW.status = 'open' AND NEW.gold IS NULL THEN greatest(NEW.required_annotations - (
      SELECT count(*) FROM assignments a WHERE a.task_id = NEW.id AND wa_assignment_takes_slot(a.status)), 0) ELSE 0 END
  WHERE task_id = NEW.id;
  IF NEW.required_annotations <> OLD.required_annotations THEN
    UPDATE job_slot_totals SET total_slots = greatest(total_slots + NEW.required_annotations - OLD.required_annotations, 0) WHERE job_id = NEW.job_id;
  END IF;
  RETURN NULL;
END $f$;

CREATE OR REPLACE TRIGGER tasks_slots_update AFTER UPDATE OF status, required_annotations, priority ON tasks
  FOR EACH ROW WHEN ((OLD.status, OLD.required_annotations, OLD.priority) IS DISTINCT FROM (NEW.status, NEW.required_annotations, NEW.priority))
  EXECUTE FUNCTION wa_task_changed();
