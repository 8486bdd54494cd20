-- requires: st_bp.sql
-- What one decision is worth: the one rule of pay, applied to a decision's fields (st_expected_pay
-- applies it to each assignment's current decision, for posting and for reconciliation alike).
--
-- All in the job's currency, rounded by st_bp:
--   base    = the job's pay_per_annotation (gold too: paid like any task), or pay_policy.verify_rate
--             for verify work (default: pay_per_annotation)
--   gross   = base x the level multiplier effective at decided_at for the decision's worker_level
--             (no level: L1; no multiplier row: 1.00), x pay_policy.rejected_pay_bp (default 0) when rejected
--   vendor  = gross x the vendor's commission_bp effective at decided_at (no contract: 0)
--   worker  = gross - vendor
-- No row when the job does not exist.
--
-- A set-returning SQL function (STABLE, not STRICT, no SET) so that the planner inlines it where it is
-- called with LATERAL: the job, multiplier and contract become joins of the caller's plan (the job a
-- hash join, the rates probes), not a function call per decision. The commission is a LEFT JOIN LATERAL
-- and not a scalar subquery: a subquery used three times was planned as three subplans per row.
CREATE OR REPLACE FUNCTION st_decision_pay(p_job_id uuid, p_kind text, p_outcome text, p_worker_level smallint, p_vendor_id uuid,
                                           p_decided_at timestamptz)
RETURNS TABLE (currency char(3), multiplier_bp integer, commission_bp integer, gross bigint, worker_amount bigint, vendor_amount bigint)
LANGUAGE sql STABLE AS $f$
  SELECT r.currency, r.multiplier_bp, r.commission_bp, r.gross, r.gross - st_bp(r.gross, r.commission_bp), st_bp(r.gross, r.commission_bp)
  FROM (
    SELECT j.currency, m.multiplier_bp, coalesce(c.commission_bp, 0) AS commission_bp,
      st_bp(st_bp(CASE WHEN p_kind = 'verify' THEN coalesce((j.pay_policy->>'verify_rate')::bigint, j.pay_per_annotation) ELSE j.pay_per_annotation END,
                  coalesce(m.multiplier_bp, 10000)),
            CASE WHEN p_outcome = 'accepted' THEN 10000 ELSE coalesce((j.pay_policy->>'rejected_pay_bp')::integer, 0) END) AS gross
    FROM jobs j
    LEFT JOIN LATERAL (SELECT l.multiplier_bp FROM level_multipliers l WHERE l.level = coalesce(p_worker_level, 1) AND l.effective_from <= p_decided_at
                       ORDER BY l.effective_from DESC LIMIT 1) m ON true
    -- The contract in force: its start by max(), then the row by its key. Not ORDER BY … LIMIT 1, which
    -- on a small table was a sort per decision (9 of 74 ms of a batch's pay, measured); and the max() a
    -- lateral of its own, so the joins around it are still flattened (the job a hash join).
    LEFT JOIN LATERAL (SELECT max(w.effective_from) AS effective_from FROM vendor_contracts w
                       WHERE w.vendor_id = p_vendor_id AND w.effective_from <= p_decided_at) cs ON true
    LEFT JOIN vendor_contracts c ON c.vendor_id = p_vendor_id AND c.effective_from = cs.effective_from
    WHERE j.id = p_job_id
  ) r
$f$;
