-- Once per statement that inserts postings (instead of two per-row foreign keys):
-- * each posting's transaction exists, was created by this database transaction (so the deferred
--   balance check at its commit, st_transaction_balanced, sees every posting it will ever have), and
--   has the posting's currency and pay run;
-- * each posting's account exists and holds the posting's currency;
-- then each touched account's balance moves by the sum of its new postings, and its statement_balance
-- by those no pay run made (what statements cover): balances are current without scanning postings,
-- one UPDATE per account per statement. Ledger writers hold the ledger
-- lock, so two of them never update the same accounts in opposite orders.
--
-- Set-based, with one probe per distinct key rather than per posting: the transactions are probed once
-- per (transaction, currency, pay run) of the statement (a batch's three legs share one), and the
-- accounts only by the balance UPDATE itself, which matches an account on its id and currency: it must
-- update exactly as many accounts as the statement names (account, currency) pairs, or a posting names
-- an account that does not exist in its currency (then a second query finds which, to say so).
CREATE OR REPLACE FUNCTION st_postings_inserted() RETURNS trigger LANGUAGE plpgsql
  -- Probes by index, never a hash of a whole table: a statement names a few hundred accounts and
  -- transactions, but with a small accounts table (10,000) the planner hashed all of it for the balance
  -- UPDATE on every statement (a seq scan and hash of ledger_accounts: 6 of the trigger's 11 ms for a
  -- batch of 500, EXPLAIN ANALYZE), and the table only grows.
  SET enable_hashjoin = off SET enable_mergejoin = off AS $f$
DECLARE
  bad record;
  named integer;
  updated integer;
BEGIN
  SELECT n.transaction_id INTO bad
  FROM (SELECT transaction_id, currency, pay_run_id FROM new_postings GROUP BY 1, 2, 3) n
  LEFT JOIN ledger_transactions t ON t.id = n.transaction_id
  WHERE t.id IS NULL OR t.created_xact <> pg_current_xact_id() OR t.currency <> n.currency
     OR t.pay_run_id IS DISTINCT FROM n.pay_run_id
  LIMIT 1;
  IF FOUND THEN
    SELECT n.transaction_id, n.leg INTO bad FROM new_postings n WHERE n.transaction_id = bad.transaction_id ORDER BY n.leg LIMIT 1;
    RAISE EXCEPTION 'posting (%, %) must belong to a ledger transaction created in this database transaction, with its currency and pay run',
      bad.transaction_id, bad.leg USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- One pass over the new postings: their sums per (account, currency), the UPDATE, and both counts.
  WITH d AS MATERIALIZED (
    SELECT account_id, currency, sum(amount) AS delta, coalesce(sum(amount) FILTER (WHERE pay_run_id IS NULL), 0) AS statement_delta
    FROM new_postings GROUP BY account_id, currency
  ),
  u AS (
    UPDATE ledger_accounts a SET balance = a.balance + d.delta, statement_balance = a.statement_balance + d.statement_delta
    FROM d
    WHERE a.id = d.account_id AND a.currency = d.currency
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u) INTO named, updated;
  IF updated <> named THEN
    SELECT n.transaction_id, n.leg INTO bad FROM new_postings n
    LEFT JOIN ledger_accounts a ON a.id = n.account_id
    WHERE a.id IS NULL OR a.currency <> n.currency
    ORDER BY n.transaction_id, n.leg
    LIMIT 1;
    RAISE EXCEPTION 'posting (%, %) names an account that does not exist in its currency', bad.transaction_id, bad.leg
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $f$;

CREATE OR REPLACE TRIGGER ledger_postings_inserted AFTER INSERT ON ledger_postings
  REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION st_postings_inserted();
