import { sql, type Kysely } from 'kysely';
import { sqlConstants } from '../sql-constants.js';

// Hours per worker, client and UTC hour, kept as decisions and reviews are recorded, so a pay run's
// floors (and the fair-pay report) read a small aggregate instead of a pass over the period's
// decisions, assignments and reviews (3.5 of the pay run's 4.6 s in the 100,000-earning bench).
//
// What a row holds is defined in packages/db/sql/st_work_hours.sql (st_work_hours_source): decided
// work on its assignment's first decision, reviews on completion. Settlement writes it in the
// statement that records the decision or review (st_record_decisions, st_record_reviews), so it is
// idempotent with them; `pieces` counts what a row sums (a row whose pieces fell to 0, because an
// earlier decision moved an assignment's hours to another hour, is no work). A period's hours are the
// rows of the hours it covers whole, plus the source rows of the partial hours at its edges, found by
// the time indexes below; so the figure is exactly the pass's, for any period.
//
// The backfill below is this migration's own copy of st_work_hours_rebuild (st_work_hours.sql, which
// the reconciler's operators can run again; SQL files are applied after migrations, so it cannot be
// called here).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE settlement_work_hours (
      currency char(3) NOT NULL,
      hour timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
      worker_id uuid NOT NULL,
      client_id uuid NOT NULL,
      ms numeric NOT NULL,
      pieces integer NOT NULL,
      PRIMARY KEY (currency, hour, worker_id, client_id)
    -- Each batch adds to the rows of the hour it decides in: room on the page keeps those updates HOT.
    ) WITH (fillfactor = 70);

    -- The partial hours at a period's edges are read from the source rows by time.
    CREATE INDEX settlement_decisions_decided ON settlement_decisions (decided_at);
    CREATE INDEX settlement_reviews_completed ON settlement_reviews (completed_at);

    -- Under the ledger lock: a consumer running during a rolling deploy records decisions under it.
    SELECT pg_advisory_xact_lock(${sql.raw(String(sqlConstants.ST_LEDGER_LOCK))});
    INSERT INTO settlement_work_hours (currency, hour, worker_id, client_id, ms, pieces)
    SELECT currency, date_trunc('hour', at, 'UTC'), worker_id, client_id, sum(ms), count(*)
    FROM (
      SELECT j.currency, f.decided_at AS at, a.worker_id, j.client_id,
        coalesce(greatest(0, least(coalesce(a.time_spent_ms::numeric, w.wall), w.wall)), 0) AS ms
      FROM (SELECT d.assignment_id, min(d.decided_at) AS decided_at FROM settlement_decisions d GROUP BY d.assignment_id) f
      JOIN assignments a ON a.id = f.assignment_id
      JOIN jobs j ON j.id = a.job_id
      CROSS JOIN LATERAL (SELECT extract(epoch FROM coalesce(a.submitted_at, a.ended_at, f.decided_at) - a.leased_at) * 1000 AS wall) w
      UNION ALL
      SELECT j.currency, r.completed_at, r.reviewer_worker_id, r.client_id, coalesce(r.time_spent_ms, 0)::numeric
      FROM settlement_reviews r JOIN jobs j ON j.id = r.job_id
    ) x
    GROUP BY 1, 2, 3, 4;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION IF EXISTS st_work_hours_rebuild(), st_work_hours_source(timestamptz, timestamptz), st_work_hours_in(char, timestamptz, timestamptz),
      st_decided_work_ms(integer, timestamptz, timestamptz, timestamptz, timestamptz);
    DROP INDEX settlement_reviews_completed, settlement_decisions_decided;
    DROP TABLE settlement_work_hours;
  `.execute(db);
}
