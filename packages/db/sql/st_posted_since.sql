-- What the ledger writer holding the lock posted after ledger transaction p_mark (the last id when it
-- took the lock: writers take turns, so every later id is its own), per kind of transaction: its
-- transactions and their postings, for the ledger metrics. Read before it commits, by id range, bounded
-- on both sides by values: an open range (`id > mark`), without fresh statistics, was planned as a third
-- of the table, a sequential scan of every posting per consumer batch (EXPLAIN ANALYZE: quadratic over
-- a run). Called by the consumer's batch (st_post_events) and by the writers in TypeScript (postedSince).
CREATE OR REPLACE FUNCTION st_posted_since(p_mark bigint)
RETURNS TABLE (kind text, transactions integer, postings integer) LANGUAGE sql STABLE AS $f$
  SELECT t.kind, count(DISTINCT t.id)::integer, count(p.leg)::integer
  FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
  WHERE t.id > p_mark AND t.id <= (SELECT max(id) FROM ledger_transactions)
    AND p.transaction_id > p_mark AND p.transaction_id <= (SELECT max(id) FROM ledger_transactions)
  GROUP BY t.kind
$f$;
