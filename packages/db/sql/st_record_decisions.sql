-- requires: st_settle_assignments.sql
-- A batch of assignment.decided payloads (a JSON array, as the consumer parsed them): records each
-- decision once (a redelivered decision_id changes nothing) and settles the assignments of the
-- decisions that were new. Returns the number of ledger transactions posted.
CREATE OR REPLACE FUNCTION st_record_decisions(p jsonb) RETURNS integer LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
DECLARE
  ids bigint[];
  missing uuid;
BEGIN
  PERFORM st_ledger_lock();
  SELECT e.job_id INTO missing FROM jsonb_to_recordset(p) AS e(job_id uuid)
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'assignment.decided names job %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  WITH ins AS (
    INSERT INTO settlement_decisions (decision_id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, outcome, kind,
                                      worker_level, supersedes_decision_id, decided_at)
    SELECT e.decision_id, e.assignment_id, e.task_id, e.job_id, e.client_id, e.worker_id, e.vendor_id, e.outcome, e.kind,
           e.worker_level, e.supersedes_decision_id, e.decided_at
    FROM jsonb_to_recordset(p) AS e(decision_id bigint, assignment_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid,
                                    vendor_id uuid, outcome text, kind text, worker_level smallint, supersedes_decision_id bigint,
                                    decided_at timestamptz)
    ON CONFLICT (decision_id) DO NOTHING
    RETURNING assignment_id
  )
  SELECT array_agg(DISTINCT assignment_id) INTO ids FROM ins;
  IF ids IS NULL THEN
    RETURN 0;
  END IF;
  RETURN st_settle_assignments(ids);
END $f$;
