-- requires: st_settle_assignments.sql st_work_hours.sql
-- A batch of assignment.decided payloads (a JSON array, as the consumer parsed them): records each
-- decision once (a redelivered decision_id changes nothing) and settles the assignments of the
-- decisions that were new. Returns the number of ledger transactions posted.
--
-- The same statement keeps the workers' hours (settlement_work_hours, see st_work_hours.sql): an
-- assignment's working time counts on its first decision, so a new decision adds it when the
-- assignment had none, and moves it when it is earlier than the first one recorded (decisions may
-- arrive out of order); a redelivered decision is not new, and changes nothing.
CREATE OR REPLACE FUNCTION st_record_decisions(p jsonb) RETURNS integer LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
DECLARE
  ids bigint[];
  earlier bigint[];
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
    RETURNING assignment_id, decided_at, job_id, worker_id, vendor_id
  ),
  -- The accounts st_settle_assignments posts to, created when a decision naming them is first recorded:
  -- the worker's and vendor's payables and the platform's revenue, in the job's currency. Only those a
  -- probe does not find are inserted (an INSERT … ON CONFLICT of an existing account still draws its
  -- identity value and evaluates its CHECKs before finding the conflict); ON CONFLICT stays for another
  -- writer creating the same account meanwhile.
  accounts AS (
    INSERT INTO ledger_accounts (owner_type, owner_id, purpose, currency)
    SELECT n.owner_type, n.owner_id, n.purpose, n.currency
    FROM (
      SELECT DISTINCT x.owner_type, x.owner_id, x.purpose, j.currency
      FROM (SELECT DISTINCT i.job_id, i.worker_id, i.vendor_id FROM ins i) i
      JOIN jobs j ON j.id = i.job_id
      CROSS JOIN LATERAL (VALUES ('worker', i.worker_id, 'worker_payable'), ('vendor', i.vendor_id, 'vendor_payable'),
                                 ('platform', NULL::uuid, 'platform_revenue')) x(owner_type, owner_id, purpose)
    ) n
    -- Two probes, so each can use the unique index: `owner_id =` finds no platform account (null owner).
    WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a
                      WHERE a.owner_type = n.owner_type AND a.owner_id = n.owner_id AND a.purpose = n.purpose AND a.currency = n.currency)
      AND NOT (n.owner_id IS NULL AND EXISTS (SELECT 1 FROM ledger_accounts a
                                               WHERE a.owner_type = n.owner_type AND a.owner_id IS NULL AND a.purpose = n.purpose AND a.currency = n.currency))
    ON CONFLICT DO NOTHING
  ),
  firsts AS (
    -- was_first reads the table as it was before this statement (a WITH sees none of its own inserts),
    -- probed per assignment: as a plain min() the planner walked the decided_at index instead,
    -- filtering on the assignment (a pass over the table per row, measured).
    SELECT i.assignment_id, i.first_at, w.was_first
    FROM (SELECT n.assignment_id, min(n.decided_at) AS first_at FROM ins n GROUP BY n.assignment_id) i
    CROSS JOIN LATERAL (SELECT min(d.decided_at) AS was_first
                        FROM (SELECT x.decided_at FROM settlement_decisions x WHERE x.assignment_id = i.assignment_id OFFSET 0) d) w
  ),
  work AS (
    SELECT j.currency, date_trunc('hour', x.at, 'UTC') AS hour, a.worker_id, j.client_id,
      x.sign * st_decided_work_ms(a.time_spent_ms, a.leased_at, a.submitted_at, a.ended_at, x.at) AS ms, x.sign AS pieces
    FROM firsts f
    -- Probed per id (see st_expected_pay.sql: no plan that scans the whole table).
    CROSS JOIN LATERAL (SELECT a.worker_id, a.time_spent_ms, a.leased_at, a.submitted_at, a.ended_at, a.job_id FROM assignments a WHERE a.id = f.assignment_id OFFSET 0) a
    -- The job too (a join here hashed all jobs once per assignment).
    CROSS JOIN LATERAL (SELECT j.currency, j.client_id FROM jobs j WHERE j.id = a.job_id OFFSET 0) j
    CROSS JOIN LATERAL (VALUES (1, f.first_at), (-1, f.was_first)) x(sign, at)
    WHERE (f.was_first IS NULL OR f.first_at < f.was_first) AND x.at IS NOT NULL
  ),
  hours AS (
    INSERT INTO settlement_work_hours AS k (currency, hour, worker_id, client_id, ms, pieces)
    SELECT w.currency, w.hour, w.worker_id, w.client_id, sum(w.ms), sum(w.pieces) FROM work w GROUP BY 1, 2, 3, 4
    ON CONFLICT (currency, hour, worker_id, client_id) DO UPDATE SET ms = k.ms + excluded.ms, pieces = k.pieces + excluded.pieces
  )
  -- The assignments to settle, and those of them that had a decision before (only they can have
  -- postings to take into account: st_settle_assignments reads no ledger for the others).
  SELECT array_agg(f.assignment_id), array_agg(f.assignment_id) FILTER (WHERE f.was_first IS NOT NULL) INTO ids, earlier FROM firsts f;
  IF ids IS NULL THEN
    RETURN 0;
  END IF;
  RETURN st_settle_assignments(ids, coalesce(earlier, '{}'));
END $f$;
