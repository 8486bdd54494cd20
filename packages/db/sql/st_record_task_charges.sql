-- requires: st_ledger_lock.sql
-- A batch of task.decided payloads: charges the client once per decided task (`task:<id>:charge`),
-- at the job's client_price_per_item, or at pay_policy.automation_price (default: the same price)
-- when a model decided it with no human. Client receivable +price, platform revenue -price. A task
-- decided again (a redelivery, or QA deciding twice) finds its key taken. Returns the number posted.
CREATE OR REPLACE FUNCTION st_record_task_charges(p jsonb) RETURNS integer LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
DECLARE
  posted integer;
  missing uuid;
BEGIN
  PERFORM st_ledger_lock();
  SELECT e.job_id INTO missing FROM jsonb_to_recordset(p) AS e(job_id uuid, client_id uuid)
  WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id AND j.client_id = e.client_id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task.decided names job %, which does not exist for its client', missing USING ERRCODE = 'foreign_key_violation';
  END IF;

  INSERT INTO ledger_accounts (owner_type, owner_id, purpose, currency)
  SELECT DISTINCT x.owner_type, x.owner_id, x.purpose, j.currency
  FROM jsonb_to_recordset(p) AS e(job_id uuid)
  JOIN jobs j ON j.id = e.job_id
  CROSS JOIN LATERAL (VALUES ('client', j.client_id, 'client_receivable'), ('platform', NULL::uuid, 'platform_revenue')) x(owner_type, owner_id, purpose)
  ON CONFLICT DO NOTHING;

  WITH ev AS (
    SELECT DISTINCT ON (e.task_id) e.*
    FROM jsonb_to_recordset(p) AS e(task_id bigint, job_id uuid, client_id uuid, decision_id bigint, automated boolean, decided_at timestamptz)
    ORDER BY e.task_id, e.decision_id
  ),
  priced AS (
    SELECT ev.*, j.currency, coalesce(ev.automated, false) AS is_automated,
      CASE WHEN coalesce(ev.automated, false) THEN coalesce((j.pay_policy->>'automation_price')::bigint, j.client_price_per_item)
           ELSE j.client_price_per_item END AS price
    FROM ev JOIN jobs j ON j.id = ev.job_id
  ),
  tx AS (
    INSERT INTO ledger_transactions (key, kind, currency, effective_at, job_id, task_id, decision_id, client_id, details)
    SELECT format('task:%s:charge', t.task_id), 'client_charge', t.currency, coalesce(t.decided_at, clock_timestamp()), t.job_id, t.task_id,
           t.decision_id, t.client_id, jsonb_build_object('automated', t.is_automated, 'price', t.price)
    FROM priced t
    WHERE t.price > 0
    ON CONFLICT (key) DO NOTHING
    RETURNING id, task_id, currency, client_id, (details->>'price')::bigint AS price
  ),
  legs AS (
    INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount)
    SELECT tx.id, l.leg, l.account_id, tx.currency, l.amount
    FROM tx
    JOIN ledger_accounts ca ON ca.owner_type = 'client' AND ca.owner_id = tx.client_id AND ca.purpose = 'client_receivable' AND ca.currency = tx.currency
    JOIN ledger_accounts pa ON pa.owner_type = 'platform' AND pa.owner_id IS NULL AND pa.purpose = 'platform_revenue' AND pa.currency = tx.currency
    CROSS JOIN LATERAL (VALUES (1, ca.id, tx.price), (2, pa.id, -tx.price)) l(leg, account_id, amount)
    RETURNING transaction_id
  )
  SELECT count(DISTINCT transaction_id) INTO posted FROM legs;
  RETURN posted;
END $f$;
