-- requires: st_expected_pay.sql st_ledger_lock.sql
-- Makes the ledger of each given assignment match its current decision, posting only the difference
-- (an upheld appeal posts the earning it lacked; a decision that takes pay back posts a correction;
-- nothing is ever deleted). Called by st_record_decisions with the assignments of newly recorded
-- decisions, under the ledger lock.
--
-- What a decision is worth: st_expected_pay.sql. Postings: worker payable -worker, vendor payable
-- -vendor, platform revenue +gross (the platform pays the work out of what it charges clients, and
-- keeps the difference).
--
-- Keys: an assignment whose current decision is an acceptance has exactly one `assignment:<id>:earning`,
-- and it carries the accepted pay in full; whatever was posted for the assignment before it (rejection
-- pay and its corrections, when a rejection was recorded first) is taken back by a correction in the
-- same batch. So the earning exists whatever order the decisions arrived in: posting only the
-- difference would post no earning at all when the rejection paid as much (rejected_pay_bp 10000) and
-- a negative one when it paid more (a higher level). A first posting of a rejected assignment is
-- `assignment:<id>:rejected_pay`; any later difference `assignment:<id>:correction:<n>`, n the number
-- of the assignment's earlier transactions (deterministic: writers hold the ledger lock).
--
-- p_earlier: those of p_ids that had a decision recorded before this batch. Only they can have ledger
-- transactions already (an assignment is posted for only when its decisions are recorded), so only
-- their ledger is read; for the others (nearly every assignment: decided once) there is nothing to read.
--
-- p_pay: what each of p_ids' current decision is worth (st_expected_pay's rows, worked out before the
-- ledger lock by st_settle_decisions' caller and brought up to date under it), or null to work it out here.
DROP FUNCTION IF EXISTS st_settle_assignments(bigint[]);
DROP FUNCTION IF EXISTS st_settle_assignments(bigint[], bigint[]);
CREATE OR REPLACE FUNCTION st_settle_assignments(p_ids bigint[], p_earlier bigint[], p_pay st_pay[] DEFAULT NULL) RETURNS integer LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  -- One generic plan: with p_pay the posting statement was planned afresh on every call (custom plans,
  -- 3.5 ms a batch under the ledger lock; pg_stat_statements), and the generic plan ran no slower (37
  -- against 41 ms without statistics of the ledger tables; with them ANALYZEd, the whole batch's CPU
  -- stayed within 1.4 ms of the version before, interleaved A/B).
  SET jit = off SET plan_cache_mode = force_generic_plan AS $f$
DECLARE
  posted integer;
BEGIN
  PERFORM st_ledger_lock();

  -- The payees' accounts exist: st_record_decisions creates those of each decision's worker and vendor
  -- (and the platform's) when it records the decision, and only recorded decisions are settled.

  -- What is posted so far for those that can have postings (p_earlier), probed per id and per
  -- transaction (LATERAL): a join the planner could hash would scan every transaction or posting of the
  -- ledger for each batch.
  WITH done AS (
    SELECT t.assignment_id, count(*) AS txns, bool_or(t.kind = 'earning') AS has_earning,
      sum(l.worker_amount) AS worker_amount, sum(l.vendor_amount) AS vendor_amount
    FROM (SELECT DISTINCT i FROM unnest(p_earlier) i) ids
    CROSS JOIN LATERAL (SELECT * FROM ledger_transactions x WHERE x.assignment_id = ids.i OFFSET 0) t
    CROSS JOIN LATERAL (
      SELECT coalesce(-sum(p.amount) FILTER (WHERE a.purpose = 'worker_payable'), 0) AS worker_amount,
             coalesce(-sum(p.amount) FILTER (WHERE a.purpose = 'vendor_payable'), 0) AS vendor_amount
      FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
      WHERE p.transaction_id = t.id
    ) l
    WHERE t.kind IN ('earning', 'rejected_pay', 'earning_correction')
    GROUP BY t.assignment_id
  ),
  plan AS (
    SELECT r.*, coalesce(d.txns, 0) AS txns, d.assignment_id IS NOT NULL AS has_postings,
      coalesce(d.worker_amount, 0) AS done_worker, coalesce(d.vendor_amount, 0) AS done_vendor,
      r.outcome = 'accepted' AND NOT coalesce(d.has_earning, false) AND (r.worker_amount <> 0 OR r.vendor_amount <> 0) AS pays_earning
    FROM (SELECT * FROM st_pay_set(p_pay) UNION ALL SELECT * FROM st_expected_pay(p_ids) WHERE p_pay IS NULL) r
    LEFT JOIN done d ON d.assignment_id = r.assignment_id
  ),
  todo AS (
    -- An earning's first posting: take back what was posted before it (ord 1), then the earning in full (ord 2).
    SELECT p.*, 1 AS ord, 'earning_correction' AS tkind, format('assignment:%s:correction:%s', p.assignment_id, p.txns) AS tkey,
      -p.done_worker AS worker_delta, -p.done_vendor AS vendor_delta
    FROM plan p WHERE p.pays_earning AND (p.done_worker <> 0 OR p.done_vendor <> 0)
    UNION ALL
    SELECT p.*, 2, 'earning', format('assignment:%s:earning', p.assignment_id), p.worker_amount, p.vendor_amount
    FROM plan p WHERE p.pays_earning
    UNION ALL
    -- Otherwise only the difference between what the current decision is worth and what was posted.
    SELECT p.*, 3, CASE WHEN p.has_postings THEN 'earning_correction' ELSE 'rejected_pay' END,
      CASE WHEN p.has_postings THEN format('assignment:%s:correction:%s', p.assignment_id, p.txns)
           ELSE format('assignment:%s:rejected_pay', p.assignment_id) END,
      p.worker_amount - p.done_worker, p.vendor_amount - p.done_vendor
    FROM plan p WHERE NOT p.pays_earning AND (p.worker_amount <> p.done_worker OR p.vendor_amount <> p.done_vendor)
  ),
  tx AS (
    INSERT INTO ledger_transactions (key, kind, currency, effective_at, job_id, task_id, assignment_id, decision_id, worker_id, vendor_id, client_id, details)
    SELECT t.tkey, t.tkind, t.currency, t.decided_at, t.job_id, t.task_id, t.assignment_id, t.decision_id, t.worker_id, t.vendor_id, t.client_id,
      jsonb_build_object('outcome', t.outcome, 'work', t.work, 'level', t.worker_level, 'multiplier_bp', t.multiplier_bp,
                         'commission_bp', t.commission_bp, 'gross', t.gross)
    FROM todo t
    ORDER BY t.assignment_id, t.ord
    RETURNING id, key
  ),
  legs AS (
    INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount)
    SELECT tx.id, l.leg, l.account_id, t.currency, l.amount
    FROM tx
    JOIN todo t ON t.tkey = tx.key
    JOIN ledger_accounts wa ON wa.owner_type = 'worker' AND wa.owner_id = t.worker_id AND wa.purpose = 'worker_payable' AND wa.currency = t.currency
    JOIN ledger_accounts va ON va.owner_type = 'vendor' AND va.owner_id = t.vendor_id AND va.purpose = 'vendor_payable' AND va.currency = t.currency
    JOIN ledger_accounts pa ON pa.owner_type = 'platform' AND pa.owner_id IS NULL AND pa.purpose = 'platform_revenue' AND pa.currency = t.currency
    CROSS JOIN LATERAL (VALUES (1, wa.id, -t.worker_delta), (2, va.id, -t.vendor_delta), (3, pa.id, t.worker_delta + t.vendor_delta)) l(leg, account_id, amount)
    WHERE l.amount <> 0
    RETURNING transaction_id
  )
  SELECT count(DISTINCT transaction_id) INTO posted FROM legs;
  RETURN posted;
END $f$;
