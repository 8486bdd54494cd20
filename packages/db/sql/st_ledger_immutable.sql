-- Ledger rows are never changed or removed: a correction is a new, reversing transaction
-- (TigerBeetle's immutable transfers). UPDATE, DELETE and TRUNCATE of postings and transactions are
-- refused by the database, whoever asks.
CREATE OR REPLACE FUNCTION st_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION '% rows are immutable: % refused (post a reversing transaction instead)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME;
END $f$;

CREATE OR REPLACE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
  FOR EACH ROW EXECUTE FUNCTION st_ledger_immutable();
CREATE OR REPLACE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
  FOR EACH STATEMENT EXECUTE FUNCTION st_ledger_immutable();
CREATE OR REPLACE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION st_ledger_immutable();
CREATE OR REPLACE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION st_ledger_immutable();
