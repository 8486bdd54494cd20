-- tasks.job_id is checked once per statement instead of by a foreign key, whose RI trigger fires once
-- per row (migration 20261128T1000_tasks_job_check has the measurements). The statement trigger keeps
-- the same guarantees: it locks each referenced job FOR KEY SHARE, as the FK would (so a concurrent
-- DELETE of the job waits for the inserting transaction), and fails with the FK's error code and
-- constraint name when a job is missing.
CREATE OR REPLACE FUNCTION td_tasks_job_exists() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  missing uuid;
BEGIN
  PERFORM 1 FROM jobs WHERE id IN (SELECT DISTINCT job_id FROM new_tasks) ORDER BY id FOR KEY SHARE;
  -- A later statement, so a later snapshot: it sees a delete that committed while the lock waited.
  SELECT n.job_id INTO missing FROM (SELECT DISTINCT job_id FROM new_tasks) n
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = n.job_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "tasks" violates foreign key constraint "tasks_job_id_fkey"'
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'tasks_job_id_fkey', TABLE = 'tasks',
            DETAIL = format('Key (job_id)=(%s) is not present in table "jobs".', missing);
  END IF;
  RETURN NULL;
END $f$;
CREATE OR REPLACE TRIGGER tasks_job_exists AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION td_tasks_job_exists();
