-- requires: st_ledger_lock.sql
-- Checked once per statement that inserts ledger transactions:
-- * the writer holds the ledger lock, so ids and posted_at grow together (see st_ledger_lock.sql);
-- * created_xact is this transaction (postings may be added only by it: st_postings_inserted);
-- * a reversal names an existing transaction of the same currency;
-- then it queues the deferred balance check of this database transaction, once (st_transaction_balanced:
-- a row in ledger_balance_checks naming the first ledger transaction to check; a later statement of
-- the same database transaction finds it there).
CREATE OR REPLACE FUNCTION st_transactions_inserted() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  bad bigint;
BEGIN
  IF NOT st_ledger_lock_held() THEN
    RAISE EXCEPTION 'ledger transactions are inserted under the ledger lock (SELECT st_ledger_lock() first)'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT n.id INTO bad FROM new_transactions n WHERE n.created_xact <> pg_current_xact_id() LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % names another database transaction as its creator', bad USING ERRCODE = 'check_violation';
  END IF;
  SELECT n.id INTO bad FROM new_transactions n
  WHERE n.reverses_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM ledger_transactions o WHERE o.id = n.reverses_id AND o.currency = n.currency AND o.id <> n.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % reverses a transaction that does not exist in its currency', bad USING ERRCODE = 'foreign_key_violation';
  END IF;
  INSERT INTO ledger_balance_checks (xact, from_id)
  SELECT pg_current_xact_id(), min(n.id) FROM new_transactions n HAVING count(*) > 0
  ON CONFLICT (xact) DO NOTHING;
  RETURN NULL;
END $f$;

CREATE OR REPLACE TRIGGER ledger_transactions_inserted AFTER INSERT ON ledger_transactions
  REFERENCING NEW TABLE AS new_transactions FOR EACH STATEMENT EXECUTE FUNCTION st_transactions_inserted();
