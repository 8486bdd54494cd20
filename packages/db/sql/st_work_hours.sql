-- requires: st_ledger_lock.sql
-- Workers' hours for the pay floors and the fair-pay report (services/settlement/src/floors.ts), kept
-- per currency, UTC hour, worker and client in settlement_work_hours as decisions and reviews are
-- recorded (st_record_decisions, st_record_reviews), so a pay run reads an aggregate instead of a
-- pass over the period's work.
--
-- What counts, each piece dated like the money it earns:
-- * decided work, on its assignment's first decision: the time spent the worker reported, capped by
--   the lease's wall time from claim to submit (st_decided_work_ms);
-- * reviews, on completion: the time the review reports.
-- Leases that expired or were released are worker-assignment's rows with no settlement event: floors.ts
-- reads them from assignments.

-- A decided assignment's working time in ms (numeric: exact sums). Each argument is a column at the
-- call sites, so the planner inlines it.
CREATE OR REPLACE FUNCTION st_decided_work_ms(time_spent_ms integer, leased_at timestamptz, submitted_at timestamptz, ended_at timestamptz,
                                              first_decided_at timestamptz)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT coalesce(greatest(0, least(coalesce(time_spent_ms::numeric, extract(epoch FROM coalesce(submitted_at, ended_at, first_decided_at) - leased_at) * 1000),
                                    extract(epoch FROM coalesce(submitted_at, ended_at, first_decided_at) - leased_at) * 1000)), 0)
$f$;

-- The hours of work dated in [p_from, p_to), computed from the source rows: what settlement_work_hours
-- holds for those hours when it is right (the rebuild and the tests compare them), and what a
-- period's partial hours at its edges are read from (the time indexes find their rows).
CREATE OR REPLACE FUNCTION st_work_hours_source(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (currency char(3), hour timestamptz, worker_id uuid, client_id uuid, ms numeric, pieces bigint)
LANGUAGE sql STABLE AS $f$
  SELECT x.currency, date_trunc('hour', x.at, 'UTC'), x.worker_id, x.client_id, sum(x.ms), count(*)
  FROM (
    SELECT j.currency, f.decided_at AS at, a.worker_id, j.client_id,
      st_decided_work_ms(a.time_spent_ms, a.leased_at, a.submitted_at, a.ended_at, f.decided_at) AS ms
    FROM (
      -- An assignment's first decision is in the range when one of its decisions is and none is earlier.
      SELECT d.assignment_id, min(d.decided_at) AS decided_at FROM settlement_decisions d
      WHERE d.decided_at >= p_from AND d.decided_at < p_to
        AND NOT EXISTS (SELECT 1 FROM settlement_decisions e WHERE e.assignment_id = d.assignment_id AND e.decided_at < d.decided_at)
      GROUP BY d.assignment_id
    ) f
    JOIN assignments a ON a.id = f.assignment_id
    JOIN jobs j ON j.id = a.job_id
    UNION ALL
    SELECT j.currency, r.completed_at, r.reviewer_worker_id, r.client_id, coalesce(r.time_spent_ms, 0)::numeric
    FROM settlement_reviews r JOIN jobs j ON j.id = r.job_id
    WHERE r.completed_at >= p_from AND r.completed_at < p_to
  ) x
  GROUP BY 1, 2, 3, 4
$f$;

-- The hours of work in one currency dated in [p_from, p_to), per worker and client (rows to be summed):
-- the kept rows of the hours the period covers whole, and the source rows of the partial hours at its
-- edges (none when the period starts and ends on the hour). Exactly st_work_hours_source's figures.
CREATE OR REPLACE FUNCTION st_work_hours_in(p_currency char(3), p_from timestamptz, p_to timestamptz)
RETURNS TABLE (worker_id uuid, client_id uuid, ms numeric)
LANGUAGE sql STABLE AS $f$
  WITH edges AS (
    SELECT e.first_whole, greatest(e.first_whole, date_trunc('hour', p_to, 'UTC')) AS last_whole_end
    FROM (SELECT date_trunc('hour', p_from, 'UTC') + CASE WHEN date_trunc('hour', p_from, 'UTC') = p_from THEN interval '0' ELSE interval '1 hour' END
            AS first_whole) e
  )
  SELECT k.worker_id, k.client_id, k.ms FROM settlement_work_hours k, edges e
  WHERE k.currency = p_currency AND k.hour >= e.first_whole AND k.hour < e.last_whole_end AND k.pieces > 0
  UNION ALL
  SELECT s.worker_id, s.client_id, s.ms FROM edges e, st_work_hours_source(p_from, least(e.first_whole, p_to)) s WHERE s.currency = p_currency
  UNION ALL
  SELECT s.worker_id, s.client_id, s.ms FROM edges e, st_work_hours_source(e.last_whole_end, p_to) s WHERE s.currency = p_currency
$f$;

-- Rebuilds settlement_work_hours from the source rows (a backfill, or a repair should a check find it
-- drifted: e.g. a change to what counts). Under the ledger lock, which the writers of decisions and
-- reviews hold, so no batch is half counted. Returns the number of rows kept.
CREATE OR REPLACE FUNCTION st_work_hours_rebuild() RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE
  n integer;
BEGIN
  PERFORM st_ledger_lock();
  DELETE FROM settlement_work_hours;
  INSERT INTO settlement_work_hours (currency, hour, worker_id, client_id, ms, pieces)
  SELECT s.currency, s.hour, s.worker_id, s.client_id, s.ms, s.pieces FROM st_work_hours_source('-infinity', 'infinity') s;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $f$;
