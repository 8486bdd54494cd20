-- Every ledger transaction's postings sum to zero (per currency: a transaction has one), and it has at
-- least two, checked by the database at commit, so a writer may insert postings in any order and
-- statements. The check runs once per transaction, not once per posting: st_postings_inserted
-- refuses postings added to a transaction by any other database transaction than the one that created
-- it, so every posting a transaction will ever have is there when its creator commits.
CREATE OR REPLACE FUNCTION st_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  n integer;
  total numeric;
BEGIN
  SELECT count(*), coalesce(sum(p.amount), 0) INTO n, total FROM ledger_postings p WHERE p.transaction_id = NEW.id;
  IF n < 2 OR total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % (%) does not balance: % postings summing to %', NEW.id, NEW.key, n, total
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $f$;

DROP TRIGGER IF EXISTS ledger_transactions_balanced ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION st_transaction_balanced();
