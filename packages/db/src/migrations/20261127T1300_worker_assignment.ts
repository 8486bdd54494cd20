import { sql, type Kysely } from 'kysely';

/**
 * Claim bookkeeping owned by worker-assignment.
 *
 * `task_slots` holds, per task, how many more annotations it can take. The claim finds work through a
 * partial index over rows with open slots, so full, decided and cancelled tasks cost nothing at any
 * table size. It lives beside `tasks` (written by task-dispatch), not in it: triggers keep it in step
 * with whoever writes tasks (imports, QA raising overlap) and assignments (claims, expiry, release,
 * QA decisions), so no service has to remember to update it and `tasks` keeps one writer.
 *
 * `job_slot_totals` is the denominator of vendor share caps (a job's total annotations wanted), and
 * `job_vendor_usage` the numerator: created only for (job, vendor) pairs that have a cap, so the
 * uncapped majority of claims never write a shared counter row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- No foreign key to tasks: rows are created by the tasks trigger itself, and an FK check per
    -- imported row would double the cost of a 100k-row import.
    CREATE TABLE task_slots (
      task_id bigint PRIMARY KEY,
      job_id uuid NOT NULL,
      priority integer NOT NULL,
      open_slots smallint NOT NULL CHECK (open_slots >= 0)
    ) WITH (fillfactor = 80);
    CREATE INDEX task_slots_open ON task_slots (job_id, priority DESC, task_id) WHERE open_slots > 0;

    CREATE TABLE job_slot_totals (
      job_id uuid PRIMARY KEY,
      total_slots bigint NOT NULL CHECK (total_slots >= 0)
    );

    CREATE TABLE job_vendor_usage (
      job_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      held bigint NOT NULL CHECK (held >= 0),
      PRIMARY KEY (job_id, vendor_id)
    );

    -- When an assignment stopped using time: submitted, released or expired. Welfare limits sum it.
    ALTER TABLE assignments ADD COLUMN ended_at timestamptz(3);
    CREATE INDEX assignments_worker_day ON assignments (worker_id, leased_at);
    -- The job's most recent assignments: the window fair share and the median time per task look at.
    CREATE INDEX assignments_job_recent ON assignments (job_id, id DESC);
    CREATE INDEX assignments_job_submitted ON assignments (job_id, submitted_at DESC) WHERE submitted_at IS NOT NULL;

    CREATE FUNCTION wa_assignment_takes_slot(status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS
      $f$ SELECT status IN ('leased', 'submitted', 'accepted') $f$;

    CREATE FUNCTION wa_tasks_inserted() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
      INSERT INTO task_slots (task_id, job_id, priority, open_slots)
      SELECT id, job_id, priority, CASE WHEN status = 'open' THEN required_annotations ELSE 0 END FROM new_tasks;
      INSERT INTO job_slot_totals AS t (job_id, total_slots)
      SELECT job_id, sum(required_annotations) FROM new_tasks GROUP BY job_id
      ON CONFLICT (job_id) DO UPDATE SET total_slots = t.total_slots + excluded.total_slots;
      RETURN NULL;
    END $f$;
    CREATE TRIGGER tasks_slots_insert AFTER INSERT ON tasks
      REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION wa_tasks_inserted();

    -- Recomputes from the assignments rather than applying a delta, so it is right whatever changed.
    CREATE FUNCTION wa_task_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
      UPDATE task_slots SET
        priority = NEW.priority,
        open_slots = CASE WHEN NEW.status = 'open' THEN greatest(NEW.required_annotations - (
          SELECT count(*) FROM assignments a WHERE a.task_id = NEW.id AND wa_assignment_takes_slot(a.status)), 0) ELSE 0 END
      WHERE task_id = NEW.id;
      IF NEW.required_annotations <> OLD.required_annotations THEN
        UPDATE job_slot_totals SET total_slots = greatest(total_slots + NEW.required_annotations - OLD.required_annotations, 0) WHERE job_id = NEW.job_id;
      END IF;
      RETURN NULL;
    END $f$;
    CREATE TRIGGER tasks_slots_update AFTER UPDATE OF status, required_annotations, priority ON tasks
      FOR EACH ROW WHEN ((OLD.status, OLD.required_annotations, OLD.priority) IS DISTINCT FROM (NEW.status, NEW.required_annotations, NEW.priority))
      EXECUTE FUNCTION wa_task_changed();

    -- An assignment entering or leaving a slot-taking state moves the task's open slots and, for
    -- capped vendors only (the row exists), the vendor's usage. The claim has the task_slots row
    -- locked already, so this never waits there.
    CREATE FUNCTION wa_assignment_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
    DECLARE
      delta integer := (CASE WHEN wa_assignment_takes_slot(NEW.status) THEN 1 ELSE 0 END)
        - (CASE WHEN TG_OP = 'UPDATE' AND wa_assignment_takes_slot(OLD.status) THEN 1 ELSE 0 END);
    BEGIN
      IF delta <> 0 THEN
        UPDATE task_slots s SET open_slots = CASE WHEN t.status = 'open' THEN greatest(s.open_slots - delta, 0) ELSE 0 END
        FROM tasks t WHERE s.task_id = NEW.task_id AND t.id = NEW.task_id;
        UPDATE job_vendor_usage SET held = greatest(held + delta, 0) WHERE job_id = NEW.job_id AND vendor_id = NEW.vendor_id;
      END IF;
      RETURN NULL;
    END $f$;
    CREATE TRIGGER assignments_slots_insert AFTER INSERT ON assignments FOR EACH ROW EXECUTE FUNCTION wa_assignment_changed();
    CREATE TRIGGER assignments_slots_update AFTER UPDATE OF status ON assignments
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION wa_assignment_changed();

    -- Tasks that existed before this migration.
    INSERT INTO task_slots (task_id, job_id, priority, open_slots)
    SELECT t.id, t.job_id, t.priority, CASE WHEN t.status = 'open' THEN greatest(t.required_annotations - coalesce(a.taken, 0), 0) ELSE 0 END
    FROM tasks t LEFT JOIN (SELECT task_id, count(*) AS taken FROM assignments WHERE wa_assignment_takes_slot(status) GROUP BY task_id) a ON a.task_id = t.id;
    INSERT INTO job_slot_totals (job_id, total_slots) SELECT job_id, sum(required_annotations) FROM tasks GROUP BY job_id;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER assignments_slots_update ON assignments;
    DROP TRIGGER assignments_slots_insert ON assignments;
    DROP TRIGGER tasks_slots_update ON tasks;
    DROP TRIGGER tasks_slots_insert ON tasks;
    DROP FUNCTION wa_assignment_changed(), wa_task_changed(), wa_tasks_inserted(), wa_assignment_takes_slot(text);
    DROP INDEX assignments_job_submitted, assignments_job_recent, assignments_worker_day;
    ALTER TABLE assignments DROP COLUMN ended_at;
    DROP TABLE job_vendor_usage, job_slot_totals, task_slots;
  `.execute(db);
}
