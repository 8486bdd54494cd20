-- requires: st_bp.sql
-- The distinct ids of an array, as a set the planner expects ROWS of: a batch's worth. unnest() of a
-- parameter is estimated at 10 rows in a generic plan (a plpgsql statement's plan after its fifth run),
-- and with fresh statistics of the ledger tables that estimate made the posting statement join its new
-- transactions back to its plan rows by a nested loop over both (500 x 500 key comparisons a batch: +50 %
-- of the batch's CPU, measured). Not inlined (the SET clause), so the estimate holds.
CREATE OR REPLACE FUNCTION st_id_set(p_ids bigint[]) RETURNS SETOF bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 500
  SET jit = off AS $f$
  SELECT DISTINCT i FROM unnest(p_ids) i
$f$;

-- A batch's st_pay rows (st_expected_pay's, carried from before the ledger lock to under it: see
-- st_record_decisions.sql) as a set planned at a batch's size, for the same reason as st_id_set.
CREATE OR REPLACE FUNCTION st_pay_set(p st_pay[]) RETURNS SETOF st_pay LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 500
  SET jit = off AS $f$
  SELECT * FROM unnest(p)
$f$;

-- What each given assignment's current decision is worth: the one rule of pay, used both to post
-- (st_settle_assignments) and to check what was posted (reconciliation).
--
-- The current decision is the one no other decision of the assignment supersedes (the latest
-- decided, then the highest id, if several), so the result does not depend on the order in which
-- decisions arrived.
--
-- All in the job's currency, rounded by st_bp:
--   base    = the job's pay_per_annotation (gold too: paid like any task), or pay_policy.verify_rate
--             for verify work (default: pay_per_annotation)
--   gross   = base x the level multiplier effective at decided_at for the decision's worker_level
--             (no level: L1; no multiplier row: 1.00), x pay_policy.rejected_pay_bp (default 0) when rejected
--   vendor  = gross x the vendor's commission_bp effective at decided_at (no contract: 0)
--   worker  = gross - vendor
CREATE OR REPLACE FUNCTION st_expected_pay(p_ids bigint[])
RETURNS TABLE (assignment_id bigint, decision_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid, vendor_id uuid,
               outcome text, work text, worker_level smallint, decided_at timestamptz, currency char(3), multiplier_bp integer,
               commission_bp integer, gross bigint, worker_amount bigint, vendor_amount bigint)
LANGUAGE sql STABLE AS $f$
  -- The decisions of these assignments first: "is it superseded" then looks only among them (a
  -- subquery over the whole table would be hashed from all of it on every batch). Probed per id
  -- (LATERAL, kept from being flattened into a join by OFFSET 0): with `= ANY` or a join, the planner
  -- chose a scan of the whole table whenever statistics were missing or older than the table's growth,
  -- which made a long run of batches quadratic.
  WITH mine AS MATERIALIZED (
    SELECT d.* FROM st_id_set(p_ids) ids(i)
    CROSS JOIN LATERAL (SELECT * FROM settlement_decisions x WHERE x.assignment_id = ids.i OFFSET 0) d
  ),
  -- "Superseded" as a join against the (usually empty) set of superseded decisions, not a correlated
  -- EXISTS: planned for a batch's 500 ids known (a session's first, custom plans), the EXISTS became a
  -- scan of the batch's decisions per decision (quadratic: 55 of 74 ms of the pay, EXPLAIN ANALYZE).
  superseded AS (
    SELECT DISTINCT s.assignment_id, s.supersedes_decision_id AS decision_id FROM mine s WHERE s.supersedes_decision_id IS NOT NULL
  ),
  heads AS (
    SELECT DISTINCT ON (m.assignment_id) m.*
    FROM mine m
    LEFT JOIN superseded s ON s.assignment_id = m.assignment_id AND s.decision_id = m.decision_id
    ORDER BY m.assignment_id, s.decision_id IS NOT NULL, m.decided_at DESC, m.decision_id DESC
  ),
  -- The rates effective at a time: each rate row holds from its effective_from until the next one's
  -- of the same level (vendor), so the row "latest effective_from <= decided_at" is the one whose span
  -- holds decided_at (effective_from is unique per level and per vendor: at most one). Joined by hash
  -- on the level (vendor) with the span as a filter, instead of a LIMIT 1 subquery per decision (two
  -- subplans per earning: ~10 µs of the batch's CPU each, measured).
  multipliers AS (
    SELECT l.level, l.multiplier_bp, l.effective_from, lead(l.effective_from) OVER (PARTITION BY l.level ORDER BY l.effective_from) AS until
    FROM level_multipliers l
  ),
  contracts AS (
    SELECT v.vendor_id, v.commission_bp, v.effective_from, lead(v.effective_from) OVER (PARTITION BY v.vendor_id ORDER BY v.effective_from) AS until
    FROM vendor_contracts v WHERE v.vendor_id IN (SELECT h.vendor_id FROM heads h)
  ),
  rated AS (
    SELECT h.*, j.currency, m.multiplier_bp, coalesce(c.commission_bp, 0) AS commission_bp,
      st_bp(st_bp(CASE WHEN h.kind = 'verify' THEN coalesce((j.pay_policy->>'verify_rate')::bigint, j.pay_per_annotation) ELSE j.pay_per_annotation END,
                  coalesce(m.multiplier_bp, 10000)),
            CASE WHEN h.outcome = 'accepted' THEN 10000 ELSE coalesce((j.pay_policy->>'rejected_pay_bp')::integer, 0) END) AS gross
    FROM heads h
    JOIN jobs j ON j.id = h.job_id
    LEFT JOIN multipliers m ON m.level = coalesce(h.worker_level, 1) AND m.effective_from <= h.decided_at AND (m.until IS NULL OR h.decided_at < m.until)
    LEFT JOIN contracts c ON c.vendor_id = h.vendor_id AND c.effective_from <= h.decided_at AND (c.until IS NULL OR h.decided_at < c.until)
  )
  SELECT r.assignment_id, r.decision_id, r.task_id, r.job_id, r.client_id, r.worker_id, r.vendor_id, r.outcome, r.kind, r.worker_level,
         r.decided_at, r.currency, r.multiplier_bp, r.commission_bp, r.gross,
         r.gross - st_bp(r.gross, r.commission_bp), st_bp(r.gross, r.commission_bp)
  FROM rated r
$f$;
