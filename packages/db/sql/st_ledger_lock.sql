-- Ledger writers take turns on one transaction-scoped advisory lock. posted_at is read under it
-- (clock_timestamp() when the row is inserted) and identity values are drawn under it, so a later
-- ledger transaction always has a larger id and a later posted_at: "everything posted before time T"
-- is "every id up to N", which is how pay runs and invoices cut the ledger without a row per posting.
-- Writers batch (the consumer posts hundreds of transactions per turn), so taking turns costs little.
CREATE OR REPLACE FUNCTION st_ledger_lock() RETURNS void LANGUAGE sql AS $f$
  SELECT pg_advisory_xact_lock(${ST_LEDGER_LOCK})
$f$;

-- Whether this session holds the ledger lock (a single-bigint advisory key shows as classid 0, objid
-- the key, objsubid 1 in pg_locks).
CREATE OR REPLACE FUNCTION st_ledger_lock_held() RETURNS boolean LANGUAGE sql STABLE AS $f$
  SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                 AND classid = 0 AND objid = ${ST_LEDGER_LOCK} AND objsubid = 1 AND granted)
$f$;
