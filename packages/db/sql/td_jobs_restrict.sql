-- ON DELETE / ON UPDATE RESTRICT. The row trigger runs once the job row is locked, so an import
-- holding FOR KEY SHARE on it has committed (or rolled back) by then and its tasks are visible here.
CREATE OR REPLACE FUNCTION td_jobs_restrict() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM tasks WHERE job_id = OLD.id) THEN
    RAISE EXCEPTION 'update or delete on table "jobs" violates foreign key constraint "tasks_job_id_fkey" on table "tasks"'
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'tasks_job_id_fkey', TABLE = 'jobs',
            DETAIL = format('Key (id)=(%s) is still referenced from table "tasks".', OLD.id);
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $f$;
CREATE OR REPLACE TRIGGER jobs_restrict_delete BEFORE DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION td_jobs_restrict();
CREATE OR REPLACE TRIGGER jobs_restrict_update BEFORE UPDATE OF id ON jobs
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION td_jobs_restrict();
