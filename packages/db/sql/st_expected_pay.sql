-- requires: st_decision_pay.sql
-- What each given assignment's current decision is worth: the one rule of pay (st_decision_pay.sql),
-- used both to post (st_settle_assignments) and to check what was posted (reconciliation).
--
-- The current decision is the one no other decision of the assignment supersedes (the latest
-- decided, then the highest id, if several), so the result does not depend on the order in which
-- decisions arrived.
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
    SELECT d.* FROM (SELECT DISTINCT i FROM unnest(p_ids) i) ids
    CROSS JOIN LATERAL (SELECT * FROM settlement_decisions x WHERE x.assignment_id = ids.i OFFSET 0) d
  ),
  -- "Superseded" as a join against the (usually empty) set of superseded decisions, not a correlated
  -- EXISTS: planned for a batch's 500 ids, the EXISTS became a scan of the batch's decisions per
  -- decision (quadratic: 55 of 74 ms, measured) whenever the planner expected too many rows to hash.
  superseded AS (
    SELECT DISTINCT s.assignment_id, s.supersedes_decision_id AS decision_id FROM mine s WHERE s.supersedes_decision_id IS NOT NULL
  ),
  heads AS (
    SELECT DISTINCT ON (m.assignment_id) m.*
    FROM mine m
    LEFT JOIN superseded s ON s.assignment_id = m.assignment_id AND s.decision_id = m.decision_id
    ORDER BY m.assignment_id, s.decision_id IS NOT NULL, m.decided_at DESC, m.decision_id DESC
  )
  SELECT h.assignment_id, h.decision_id, h.task_id, h.job_id, h.client_id, h.worker_id, h.vendor_id, h.outcome, h.kind, h.worker_level,
         h.decided_at, r.currency, r.multiplier_bp, r.commission_bp, r.gross, r.worker_amount, r.vendor_amount
  FROM heads h
  CROSS JOIN LATERAL st_decision_pay(h.job_id, h.kind, h.outcome, h.worker_level, h.vendor_id, h.decided_at) r
$f$;
