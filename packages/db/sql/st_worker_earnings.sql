-- What each worker has earned, per currency, from the ledger, as the worker sees it (holder-side minor
-- units, as text: a sum may pass 2^53). Read by settlement's /v1/me/earnings and by worker-assignment's
-- /v1/me (a read of settlement's tables through one definition, so both say the same):
--   pending  earned and not yet in an approved pay run: unpaid balance, balances under the minimum
--            payout carried over, statements of draft runs;
--   approved in statements of approved runs, not yet paid out;
--   paid     in paid statements.
-- pending + approved + paid is everything the worker has earned (−balance + paid: a payout debits
-- the payable by exactly its statement's total).
CREATE OR REPLACE VIEW st_worker_earnings AS
SELECT a.owner_id AS worker_id, a.currency,
  ((-a.balance)::numeric - coalesce(s.approved, 0))::text AS pending,
  coalesce(s.approved, 0)::text AS approved,
  coalesce(s.paid, 0)::text AS paid
FROM ledger_accounts a
LEFT JOIN LATERAL (
  SELECT sum(st.total) FILTER (WHERE st.status = 'unpaid' AND r.status = 'approved') AS approved,
         sum(st.total) FILTER (WHERE st.status = 'paid') AS paid
  FROM statements st JOIN pay_runs r ON r.id = st.pay_run_id
  WHERE st.account_id = a.id
) s ON true
WHERE a.purpose = 'worker_payable';
