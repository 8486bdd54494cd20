-- requires: st_bp.sql st_ledger_lock.sql st_work_hours.sql st_expected_pay.sql
-- A batch of review.completed payloads: records each review once and pays the reviewer the job's
-- pay_policy.review_rate (default: pay_per_annotation), whatever the review's outcome, keyed
-- `review:<id>:earning`. The reviewer's vendor takes its commission as on any pay; the platform pays
-- the gross. Two steps, like decisions (st_record_decisions.sql), so that only the ledger's part waits
-- for the ledger lock:
--
-- 1. st_insert_reviews records each review once (a redelivered review_id changes nothing), creates the
--    payees' accounts and adds each new review's time to the reviewer's kept hours
--    (settlement_work_hours, see st_work_hours.sql). No lock: the reviews' primary key orders writers of
--    the same review, and rows go in key order. The hours are written here rather than under the lock
--    because decisions write theirs here too: a batch holding the lock that waited for an hours row
--    another batch wrote before taking its turn would wait for a batch that waits for the lock (a
--    deadlock, which the database breaks after deadlock_timeout by failing one of them).
-- 2. st_settle_reviews posts the pay of the reviews step 1 recorded, under the ledger lock.
--
-- st_record_reviews runs both; returns the number of transactions posted.
CREATE OR REPLACE FUNCTION st_insert_reviews(p jsonb) RETURNS SETOF bigint LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
DECLARE
  missing uuid;
BEGIN
  SELECT e.job_id INTO missing FROM jsonb_to_recordset(p) AS e(job_id uuid)
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'review.completed names job %, which does not exist', missing USING ERRCODE = 'foreign_key_violation';
  END IF;

  INSERT INTO ledger_accounts (owner_type, owner_id, purpose, currency)
  SELECT DISTINCT x.owner_type, x.owner_id, x.purpose, j.currency
  FROM jsonb_to_recordset(p) AS e(job_id uuid, reviewer_worker_id uuid, reviewer_vendor_id uuid)
  JOIN jobs j ON j.id = e.job_id
  CROSS JOIN LATERAL (VALUES ('worker', e.reviewer_worker_id, 'worker_payable'), ('vendor', e.reviewer_vendor_id, 'vendor_payable'),
                             ('platform', NULL::uuid, 'platform_revenue')) x(owner_type, owner_id, purpose)
  ORDER BY 1, 2, 3, 4
  ON CONFLICT DO NOTHING;

  RETURN QUERY
  WITH ins AS (
    INSERT INTO settlement_reviews AS r (review_id, reviewer_worker_id, reviewer_vendor_id, assignment_id, job_id, client_id, outcome, time_spent_ms, completed_at)
    SELECT e.review_id, e.reviewer_worker_id, e.reviewer_vendor_id, e.assignment_id, e.job_id, e.client_id, e.outcome, e.time_spent_ms, e.completed_at
    FROM jsonb_to_recordset(p) AS e(review_id bigint, reviewer_worker_id uuid, reviewer_vendor_id uuid, assignment_id bigint, job_id uuid,
                                    client_id uuid, outcome text, time_spent_ms integer, completed_at timestamptz)
    ORDER BY e.review_id
    ON CONFLICT (review_id) DO NOTHING
    RETURNING r.*
  ),
  hours AS (
    INSERT INTO settlement_work_hours AS k (currency, hour, worker_id, client_id, ms, pieces)
    SELECT j.currency, date_trunc('hour', i.completed_at, 'UTC'), i.reviewer_worker_id, i.client_id, sum(coalesce(i.time_spent_ms, 0)::numeric), count(*)
    FROM ins i JOIN jobs j ON j.id = i.job_id
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (currency, hour, worker_id, client_id) DO UPDATE SET ms = k.ms + excluded.ms, pieces = k.pieces + excluded.pieces
  )
  SELECT i.review_id FROM ins i;
END $f$;

-- Under the ledger lock: the pay of reviews recorded by st_insert_reviews (their ids).
CREATE OR REPLACE FUNCTION st_settle_reviews(p_ids bigint[]) RETURNS integer LANGUAGE plpgsql
  SET jit = off AS $f$
DECLARE
  posted integer;
BEGIN
  IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM st_ledger_lock();
  WITH
  rated AS (
    SELECT i.*, j.currency, coalesce(c.commission_bp, 0) AS commission_bp,
      coalesce((j.pay_policy->>'review_rate')::bigint, j.pay_per_annotation) AS gross
    -- Probed per id (st_id_set: see st_expected_pay.sql).
    FROM st_id_set(p_ids) ids(id)
    CROSS JOIN LATERAL (SELECT * FROM settlement_reviews x WHERE x.review_id = ids.id OFFSET 0) i
    JOIN jobs j ON j.id = i.job_id
    LEFT JOIN LATERAL (SELECT v.commission_bp FROM vendor_contracts v WHERE v.vendor_id = i.reviewer_vendor_id AND v.effective_from <= i.completed_at
                       ORDER BY v.effective_from DESC LIMIT 1) c ON true
  ),
  todo AS (
    SELECT r.*, st_bp(r.gross, r.commission_bp) AS vendor_amount, r.gross - st_bp(r.gross, r.commission_bp) AS worker_amount
    FROM rated r WHERE r.gross > 0
  ),
  tx AS (
    INSERT INTO ledger_transactions (key, kind, currency, effective_at, job_id, assignment_id, review_id, worker_id, vendor_id, client_id, details)
    SELECT format('review:%s:earning', t.review_id), 'review_earning', t.currency, t.completed_at, t.job_id, NULL, t.review_id,
           t.reviewer_worker_id, t.reviewer_vendor_id, t.client_id,
           jsonb_build_object('reviewed_assignment_id', t.assignment_id, 'outcome', t.outcome, 'commission_bp', t.commission_bp, 'gross', t.gross)
    FROM todo t
    ON CONFLICT (key) DO NOTHING
    RETURNING id, review_id
  ),
  legs AS (
    INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount)
    SELECT tx.id, l.leg, l.account_id, t.currency, l.amount
    FROM tx
    JOIN todo t ON t.review_id = tx.review_id
    JOIN ledger_accounts wa ON wa.owner_type = 'worker' AND wa.owner_id = t.reviewer_worker_id AND wa.purpose = 'worker_payable' AND wa.currency = t.currency
    JOIN ledger_accounts va ON va.owner_type = 'vendor' AND va.owner_id = t.reviewer_vendor_id AND va.purpose = 'vendor_payable' AND va.currency = t.currency
    JOIN ledger_accounts pa ON pa.owner_type = 'platform' AND pa.owner_id IS NULL AND pa.purpose = 'platform_revenue' AND pa.currency = t.currency
    CROSS JOIN LATERAL (VALUES (1, wa.id, -t.worker_amount), (2, va.id, -t.vendor_amount), (3, pa.id, t.gross)) l(leg, account_id, amount)
    WHERE l.amount <> 0
    RETURNING transaction_id
  )
  SELECT count(DISTINCT transaction_id) INTO posted FROM legs;
  RETURN posted;
END $f$;

-- Both steps, for a caller with one batch.
CREATE OR REPLACE FUNCTION st_record_reviews(p jsonb) RETURNS integer LANGUAGE plpgsql AS $f$
BEGIN
  RETURN st_settle_reviews(ARRAY(SELECT st_insert_reviews(p)));
END $f$;
