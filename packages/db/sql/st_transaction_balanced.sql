-- Every ledger transaction's postings sum to zero (per currency: a transaction has one), and it has at
-- least two, checked by the database at commit, so a writer may insert postings in any order and
-- statements. st_postings_inserted refuses postings added to a transaction by any other database
-- transaction than the one that created it, so every posting a transaction will ever have is there
-- when its creator commits.
--
-- Once per batch, not once per ledger transaction. Postgres has only row-level constraint triggers,
-- so the trigger fires for each new transaction at commit, but the first firing checks every ledger
-- transaction from its id on in one set-based query (the batch's id range, see below) and notes
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
  -- Set-based, over the batch's id range, without a join (a join of the two ranges was planned as a
  -- nested loop rescanning the grouped postings per transaction: quadratic in the batch): the range's
  -- postings grouped per transaction, then whether every transaction of the range has postings at all
  -- (their counts; postings name only existing transactions, st_postings_inserted). Those without any
  -- are looked for only when the counts differ.
  SELECT x.transaction_id AS id, x.n, x.total INTO bad
  FROM (SELECT p.transaction_id, count(*) AS n, sum(p.amount) AS total FROM ledger_postings p
        WHERE p.transaction_id BETWEEN NEW.id AND last GROUP BY p.transaction_id) x
  WHERE x.n < 2 OR x.total <> 0
  ORDER BY x.transaction_id
  LIMIT 1;
  IF NOT FOUND AND (SELECT count(*) FROM ledger_transactions t WHERE t.id BETWEEN NEW.id AND last AND t.created_xact = pg_current_xact_id())
                   <> (SELECT count(DISTINCT p.transaction_id) FROM ledger_postings p WHERE p.transaction_id BETWEEN NEW.id AND last) THEN
    SELECT t.id, 0::bigint AS n, 0::numeric AS total INTO bad FROM ledger_transactions t
    WHERE t.id BETWEEN NEW.id AND last AND t.created_xact = pg_current_xact_id()
      AND NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.transaction_id = t.id)
    ORDER BY t.id
    LIMIT 1;
  END IF;
  IF bad.id IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % (%) does not balance: % postings summing to %', bad.id,
      (SELECT t.key FROM ledger_transactions t WHERE t.id = bad.id), bad.n, bad.total
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('fairlabel.ledger_balanced_through', last::text, true);
  RETURN NULL;
END $f$;

DROP TRIGGER IF EXISTS ledger_transactions_balanced ON ledger_transactions;
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION st_transaction_balanced();
