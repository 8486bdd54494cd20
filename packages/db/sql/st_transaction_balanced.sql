-- Every ledger transaction's postings sum to zero (per currency: a transaction has one), and it has at
-- least two, checked by the database at commit, so a writer may insert postings in any order and
-- statements. st_postings_inserted refuses postings added to a transaction by any other database
-- transaction than the one that created it, so every posting a transaction will ever have is there
-- when its creator commits.
--
-- Once per batch, not once per ledger transaction. Postgres has only row-level constraint triggers,
-- so the trigger fires for each new transaction at commit, but the first firing checks every ledger
-- transaction from its id on in one set-based query (a range of each table, merged by id) and notes
-- the last id it checked (a transaction-local setting); the firings for the rest of the batch find
-- themselves checked and return.
-- "From its id on" is exactly this database transaction's ledger transactions: writers hold the ledger
-- lock (st_transactions_inserted refuses them otherwise) and draw ids under it, so until this one
-- commits every later id is its own. Deferred triggers fire in the order their rows were inserted, so
-- the first firing has the smallest id; a later firing past the noted id (rows inserted after SET
-- CONSTRAINTS … IMMEDIATE ran the check) checks again from there.
CREATE OR REPLACE FUNCTION st_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  checked bigint := nullif(current_setting('fairlabel.ledger_balanced_through', true), '')::bigint;
  bad record;
  last bigint;
BEGIN
  IF checked IS NOT NULL AND NEW.id <= checked THEN
    RETURN NULL;
  END IF;
  -- Bounded on both sides (an open range, without statistics, is planned as a third of the table).
  SELECT max(t.id) INTO last FROM ledger_transactions t;
  -- One range scan of each table, merged by id: the postings of the range grouped per transaction
  -- (not a probe of the postings per transaction).
  SELECT t.id, t.key, coalesce(x.n, 0) AS n, coalesce(x.total, 0) AS total INTO bad
  FROM ledger_transactions t
  LEFT JOIN (SELECT p.transaction_id, count(*) AS n, sum(p.amount) AS total FROM ledger_postings p
             WHERE p.transaction_id BETWEEN NEW.id AND last GROUP BY p.transaction_id) x ON x.transaction_id = t.id
  WHERE t.id BETWEEN NEW.id AND last AND t.created_xact = pg_current_xact_id() AND (x.n IS NULL OR x.n < 2 OR x.total <> 0)
  ORDER BY t.id
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % (%) does not balance: % postings summing to %', bad.id, bad.key, bad.n, bad.total
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('fairlabel.ledger_balanced_through', last::text, true);
  RETURN NULL;
END $f$;

DROP TRIGGER IF EXISTS ledger_transactions_balanced ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION st_transaction_balanced();
