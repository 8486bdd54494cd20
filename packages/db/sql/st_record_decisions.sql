-- requires: st_settle_assignments.sql st_work_hours.sql st_ledger_lock.sql
-- A batch of assignment.decided payloads (a JSON array, as the consumer parsed them), in two steps so
-- that the first runs outside the ledger lock (st_post_events: while another batch holds the lock, the
-- next one records its decisions, and only the ledger's part of a batch waits its turn):
--
-- 1. st_insert_decisions records each decision once (a redelivered decision_id changes nothing) and
--    creates the payees' accounts; it returns the decisions that were new. No lock: the decisions'
--    primary key orders concurrent writers of the same decision (the second waits for the first to
--    commit, then inserts nothing), and rows are inserted in decision_id order, so two batches sharing
--    decisions take their keys in the same order.
-- 2. st_settle_decisions, under the ledger lock, keeps the workers' hours and settles the assignments
--    of the new decisions. It reads the assignments' other decisions with a snapshot taken under the
--    lock: every batch that recorded a decision of the same assignment and committed is there (and has
--    settled it and counted its hours), and one that has not yet committed will, in its turn, see this
--    one's. So each assignment is settled and counted by whoever records its decisions last, with all
--    of them in view.
--
-- st_record_decisions runs both, for a caller that has one batch to post.
-- The new decisions of a batch: recorded, with the accounts st_settle_assignments will post to.
CREATE OR REPLACE FUNCTION st_insert_decisions(p jsonb)
RETURNS TABLE (decision_id bigint, assignment_id bigint, decided_at timestamptz) LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
#variable_conflict use_column
DECLARE
  missing uuid;
BEGIN
  SELECT e.job_id INTO missing FROM jsonb_to_recordset(p) AS e(job_id uuid)
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'assignment.decided names job %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN QUERY
  WITH ins AS (
    INSERT INTO settlement_decisions AS s (decision_id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, outcome, kind,
                                           worker_level, supersedes_decision_id, decided_at)
    SELECT e.decision_id, e.assignment_id, e.task_id, e.job_id, e.client_id, e.worker_id, e.vendor_id, e.outcome, e.kind,
           e.worker_level, e.supersedes_decision_id, e.decided_at
    FROM jsonb_to_recordset(p) AS e(decision_id bigint, assignment_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid,
                                    vendor_id uuid, outcome text, kind text, worker_level smallint, supersedes_decision_id bigint,
                                    decided_at timestamptz)
    ORDER BY e.decision_id
    ON CONFLICT ON CONSTRAINT settlement_decisions_pkey DO NOTHING
    RETURNING s.decision_id, s.assignment_id, s.decided_at, s.job_id, s.worker_id, s.vendor_id
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
  )
  SELECT i.decision_id, i.assignment_id, i.decided_at FROM ins i;
END $f$;

-- Under the ledger lock: the hours and the ledger of the assignments of a batch's new decisions
-- (st_insert_decisions' rows, as arrays). An assignment's working time counts on its first decision, so
-- a new decision adds it when the assignment had none, and moves it when it is earlier than the first
-- one recorded before (decisions may arrive out of order). "Before" is every other decision of the
-- assignment this snapshot sees: counted by the batch that recorded it, which held the lock and
-- committed (or, in the same database transaction, an earlier call). Returns the number of ledger
-- transactions posted.
CREATE OR REPLACE FUNCTION st_settle_decisions(p_decisions bigint[], p_assignments bigint[], p_decided_at timestamptz[]) RETURNS integer
LANGUAGE plpgsql
  SET jit = off AS $f$
DECLARE
  ids bigint[];
  earlier bigint[];
BEGIN
  IF p_decisions IS NULL OR cardinality(p_decisions) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM st_ledger_lock();
  WITH firsts AS (
    -- was_first: the assignment's first decision among those recorded before this batch's, probed per
    -- assignment: as a plain min() the planner walked the decided_at index instead, filtering on the
    -- assignment (a pass over the table per row, measured).
    SELECT i.assignment_id, i.first_at, w.was_first
    FROM (SELECT n.assignment_id, min(n.decided_at) AS first_at, array_agg(n.decision_id) AS mine
          FROM unnest(p_assignments, p_decided_at, p_decisions) AS n(assignment_id, decided_at, decision_id) GROUP BY n.assignment_id) i
    CROSS JOIN LATERAL (SELECT min(d.decided_at) AS was_first
                        FROM (SELECT x.decided_at FROM settlement_decisions x
                              WHERE x.assignment_id = i.assignment_id AND x.decision_id <> ALL (i.mine) OFFSET 0) d) w
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
  RETURN st_settle_assignments(ids, coalesce(earlier, '{}'));
END $f$;

-- Both steps, for a caller with one batch (tests, tools): returns the number of ledger transactions posted.
CREATE OR REPLACE FUNCTION st_record_decisions(p jsonb) RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE
  d bigint[];
  a bigint[];
  t timestamptz[];
BEGIN
  SELECT array_agg(n.decision_id), array_agg(n.assignment_id), array_agg(n.decided_at) INTO d, a, t FROM st_insert_decisions(p) n;
  RETURN st_settle_decisions(d, a, t);
END $f$;
