-- requires: st_settle_assignments.sql st_expected_pay.sql st_work_hours.sql st_ledger_lock.sql
-- A batch of assignment.decided payloads (a JSON array, as the consumer parsed them), in two steps so
-- that the first runs outside the ledger lock (st_post_events: while one batch holds the lock, the next
-- one records its decisions and counts their hours, and only the ledger's part of a batch waits its turn):
--
-- 1. st_insert_decisions records each decision once (a redelivered decision_id changes nothing),
--    creates the payees' accounts and keeps the workers' hours (settlement_work_hours, see
--    st_work_hours.sql): an assignment's working time counts on its first decision, so a new decision
--    adds it when the assignment had none, and moves it when it is earlier than the first one recorded
--    before (decisions may arrive out of order). It returns the new decisions, each with the first
--    decision it found recorded before (was_first). No lock: the decisions' primary key orders
--    concurrent writers of the same decision (the second waits for the first to commit, then inserts
--    nothing); rows are inserted and hours upserted in key order, so two batches take their row locks
--    in the same order.
--    st_post_events also works out, still before the lock, what each assignment's current decision is
--    worth (st_expected_pay).
-- 2. st_settle_decisions, under the ledger lock, reads each assignment's other decisions again, with a
--    snapshot taken under the lock: every batch that recorded one and committed is there. A batch
--    that committed between this one's two steps (the only way the two reads can differ: a decision of
--    the same assignment recorded at the same time) was counted as if this one's decision did not exist,
--    and this one as if that one did not: the difference between what step 1 counted and what it would
--    have counted had it seen that decision is posted now, and that assignment's pay is worked out
--    again. Then it settles the assignments.
--
-- st_record_decisions runs both, for a caller that has one batch to post.

-- The new decisions of a batch: recorded, with the accounts st_settle_assignments will post to.
CREATE OR REPLACE FUNCTION st_insert_decisions(p jsonb)
RETURNS TABLE (decision_id bigint, assignment_id bigint, decided_at timestamptz, was_first timestamptz, others integer) LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
#variable_conflict use_column
DECLARE
  missing uuid;
  d bigint[];
  a bigint[];
  t timestamptz[];
BEGIN
  SELECT e.job_id INTO missing FROM jsonb_to_recordset(p) AS e(job_id uuid)
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'assignment.decided names job %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;
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
    ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING
  )
  SELECT array_agg(i.decision_id), array_agg(i.assignment_id), array_agg(i.decided_at) INTO d, a, t FROM ins i;
  IF d IS NULL THEN
    RETURN;
  END IF;
  -- A new statement: it sees this batch's decisions, and those of every batch that committed.
  RETURN QUERY
  WITH firsts AS MATERIALIZED (
    SELECT f.assignment_id, f.first_at, f.was_first, f.others FROM st_decision_firsts(d, a, t) f
  ),
  hours AS (
    INSERT INTO settlement_work_hours AS k (currency, hour, worker_id, client_id, ms, pieces)
    SELECT w.currency, w.hour, w.worker_id, w.client_id, sum(w.ms), sum(w.pieces)
    FROM firsts f CROSS JOIN LATERAL st_decision_hours(f.assignment_id, f.first_at, f.was_first, 1) w
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (currency, hour, worker_id, client_id) DO UPDATE SET ms = k.ms + excluded.ms, pieces = k.pieces + excluded.pieces
  )
  SELECT n.decision_id, n.assignment_id, n.decided_at, f.was_first, f.others
  FROM unnest(d, a, t) AS n(decision_id, assignment_id, decided_at) JOIN firsts f ON f.assignment_id = n.assignment_id;
END $f$;

-- Per assignment of a batch's new decisions (arrays of st_insert_decisions' rows): its first new
-- decision (first_at), and the first of its other decisions this statement's snapshot sees (was_first:
-- those recorded before, or by a batch that committed since) and how many they are (others: decisions
-- are never deleted, so the same count is the same decisions), probed per assignment: as a plain min()
-- the planner walked the decided_at index instead, filtering on the assignment (a pass over the table
-- per row, measured).
CREATE OR REPLACE FUNCTION st_decision_firsts(p_decisions bigint[], p_assignments bigint[], p_decided_at timestamptz[])
RETURNS TABLE (assignment_id bigint, first_at timestamptz, was_first timestamptz, others integer) LANGUAGE sql STABLE AS $f$
  SELECT i.assignment_id, i.first_at, w.was_first, w.others
  FROM (SELECT n.assignment_id, min(n.decided_at) AS first_at, array_agg(n.decision_id) AS mine
        FROM unnest(p_assignments, p_decided_at, p_decisions) AS n(assignment_id, decided_at, decision_id) GROUP BY n.assignment_id) i
  CROSS JOIN LATERAL (SELECT min(d.decided_at) AS was_first, count(*)::integer AS others
                      FROM (SELECT x.decided_at FROM settlement_decisions x
                            WHERE x.assignment_id = i.assignment_id AND x.decision_id <> ALL (i.mine) OFFSET 0) d) w
$f$;

-- What an assignment's new first decision (first_at) adds to the kept hours, given the first decision
-- recorded before it (was_first), times p_sign: its working time on first_at's hour when it had none;
-- moved there from was_first's hour when first_at is earlier; nothing otherwise.
CREATE OR REPLACE FUNCTION st_decision_hours(p_assignment bigint, p_first_at timestamptz, p_was_first timestamptz, p_sign integer)
RETURNS TABLE (currency char(3), hour timestamptz, worker_id uuid, client_id uuid, ms numeric, pieces integer) LANGUAGE sql STABLE AS $f$
  SELECT j.currency, date_trunc('hour', x.at, 'UTC'), a.worker_id, j.client_id,
    p_sign * x.sign * st_decided_work_ms(a.time_spent_ms, a.leased_at, a.submitted_at, a.ended_at, x.at), p_sign * x.sign
  -- Probed by id, the assignment and then its job (inlined into a caller's LATERAL, a plain join was
  -- planned as a hash of all jobs per assignment: see st_expected_pay.sql).
  FROM (SELECT a.worker_id, a.time_spent_ms, a.leased_at, a.submitted_at, a.ended_at, a.job_id FROM assignments a WHERE a.id = p_assignment OFFSET 0) a
  CROSS JOIN LATERAL (SELECT j.currency, j.client_id FROM jobs j WHERE j.id = a.job_id OFFSET 0) j
  CROSS JOIN LATERAL (VALUES (1, p_first_at), (-1, p_was_first)) x(sign, at)
  WHERE (p_was_first IS NULL OR p_first_at < p_was_first) AND x.at IS NOT NULL
$f$;

-- Under the ledger lock: corrects the hours step 1 counted from a stale view (see above) and settles
-- the assignments of a batch's new decisions. p_was_first and p_others are what step 1 saw of each
-- assignment's other decisions (st_decision_firsts); p_pay, when given, what step 1 worked out each
-- assignment's current decision is worth (st_expected_pay), which holds for the assignments whose other
-- decisions are still the ones it saw, and is worked out again here for the others. Returns the number
-- of ledger transactions posted.
CREATE OR REPLACE FUNCTION st_settle_decisions(p_decisions bigint[], p_assignments bigint[], p_decided_at timestamptz[], p_was_first timestamptz[],
                                               p_others integer[], p_pay st_pay[] DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql
  SET jit = off AS $f$
DECLARE
  ids bigint[];
  earlier bigint[];
  stale bigint[];
  pay st_pay[];
BEGIN
  IF p_decisions IS NULL OR cardinality(p_decisions) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM st_ledger_lock();
  WITH firsts AS MATERIALIZED (
    SELECT f.assignment_id, f.first_at, f.was_first, f.others, c.counted, c.seen
    FROM st_decision_firsts(p_decisions, p_assignments, p_decided_at) f
    JOIN (SELECT DISTINCT n.assignment_id, n.was_first AS counted, n.others AS seen
          FROM unnest(p_assignments, p_was_first, p_others) AS n(assignment_id, was_first, others)) c
      ON c.assignment_id = f.assignment_id
  ),
  corrections AS (
    INSERT INTO settlement_work_hours AS k (currency, hour, worker_id, client_id, ms, pieces)
    SELECT w.currency, w.hour, w.worker_id, w.client_id, sum(w.ms), sum(w.pieces)
    FROM firsts f
    CROSS JOIN LATERAL (SELECT * FROM st_decision_hours(f.assignment_id, f.first_at, f.was_first, 1)
                        UNION ALL SELECT * FROM st_decision_hours(f.assignment_id, f.first_at, f.counted, -1)) w
    WHERE f.was_first IS DISTINCT FROM f.counted
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (currency, hour, worker_id, client_id) DO UPDATE SET ms = k.ms + excluded.ms, pieces = k.pieces + excluded.pieces
  )
  -- The assignments to settle, those of them that had a decision before (only they can have postings
  -- to take into account: st_settle_assignments reads no ledger for the others), and those whose other
  -- decisions changed since step 1.
  SELECT array_agg(f.assignment_id), array_agg(f.assignment_id) FILTER (WHERE f.was_first IS NOT NULL),
         array_agg(f.assignment_id) FILTER (WHERE f.others IS DISTINCT FROM f.seen)
  INTO ids, earlier, stale FROM firsts f;
  IF p_pay IS NOT NULL AND stale IS NOT NULL THEN
    pay := ARRAY(SELECT r FROM st_pay_set(p_pay) r WHERE r.assignment_id <> ALL (stale)
                 UNION ALL SELECT r::st_pay FROM st_expected_pay(stale) r);
  ELSE
    pay := p_pay;
  END IF;
  RETURN st_settle_assignments(ids, coalesce(earlier, '{}'), pay);
END $f$;

-- Both steps, for a caller with one batch (tests, tools): returns the number of ledger transactions posted.
CREATE OR REPLACE FUNCTION st_record_decisions(p jsonb) RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE
  d bigint[];
  a bigint[];
  t timestamptz[];
  w timestamptz[];
  o integer[];
BEGIN
  SELECT array_agg(n.decision_id), array_agg(n.assignment_id), array_agg(n.decided_at), array_agg(n.was_first), array_agg(n.others)
  INTO d, a, t, w, o FROM st_insert_decisions(p) n;
  RETURN st_settle_decisions(d, a, t, w, o);
END $f$;
