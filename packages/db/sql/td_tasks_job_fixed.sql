-- A task never moves to another job: its assignments, ledger lines and slots all name the job.
CREATE OR REPLACE FUNCTION td_tasks_job_fixed() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'a task cannot move to another job (task %)', OLD.id
    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'tasks_job_id_fkey', TABLE = 'tasks';
END $f$;
CREATE OR REPLACE TRIGGER tasks_job_fixed BEFORE UPDATE OF job_id ON tasks
  FOR EACH ROW WHEN (OLD.job_id IS DISTINCT FROM NEW.job_id) EXECUTE FUNCTION td_tasks_job_fixed();
