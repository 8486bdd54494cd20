// Baseline (a), the raw SQL floor: bare pg clients claiming rows of a plain table with
// UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id and completing them
// with a second UPDATE. No HTTP, no eligibility, no bookkeeping: what Postgres itself does per cycle.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, type LatencySummary } from './stats.js';

export interface RawSqlResult {
  clients: number;
  cycles: number;
  seconds: number;
  cyclesPerSecond: number;
  claim: LatencySummary | null;
  /** Seconds into the measured window at which the table ran out of open rows, if it did. */
  exhaustedAfter: number | null;
}

export async function setUpRawQueue(url: string, rows: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      DROP TABLE IF EXISTS bench_raw_queue;
      CREATE TABLE bench_raw_queue (
        id bigint PRIMARY KEY,
        status text NOT NULL DEFAULT 'open',
        payload jsonb NOT NULL,
        claimed_at timestamptz,
        done_at timestamptz
      );
      CREATE INDEX bench_raw_queue_open ON bench_raw_queue (id) WHERE status = 'open';`);
    await c.query(`INSERT INTO bench_raw_queue (id, payload) SELECT g, jsonb_build_object('text', 'bench item ' || g) FROM generate_series(1, $1::int) g`, [rows]);
    await c.query('VACUUM (ANALYZE) bench_raw_queue');
  } finally {
    await c.end();
  }
}

const CLAIM = `UPDATE bench_raw_queue SET status = 'claimed', claimed_at = now()
  WHERE id = (SELECT id FROM bench_raw_queue WHERE status = 'open' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
  RETURNING id`;
const COMPLETE = `UPDATE bench_raw_queue SET status = 'done', done_at = now() WHERE id = $1`;

export async function runRawSql(
  url: string,
  clients: number,
  warmupSeconds: number,
  seconds: number,
  hooks: { onMeasureStart?: () => void; onMeasureEnd?: () => void } = {},
): Promise<RawSqlResult> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'bench-raw-sql' });
      await c.connect();
      return c;
    }),
  );
  let measuring = false;
  let stopping = false;
  let cycles = 0;
  let exhaustedAt: number | null = null;
  let started = 0;
  const claimMs: number[] = [];

  const loop = async (c: pg.Client) => {
    while (!stopping) {
      const counted = measuring;
      const t0 = performance.now();
      const claimed = await c.query<{ id: string }>(CLAIM);
      const t1 = performance.now();
      const row = claimed.rows[0];
      if (!row) {
        // SKIP LOCKED also returns nothing while every open row is locked by someone else; only an
        // empty table really means "done".
        const left = await c.query(`SELECT 1 FROM bench_raw_queue WHERE status = 'open' LIMIT 1`);
        if (left.rowCount === 0) {
          if (exhaustedAt === null && measuring) exhaustedAt = (performance.now() - started) / 1000;
          stopping = true;
        }
        continue;
      }
      await c.query(COMPLETE, [row.id]);
      if (counted && measuring) {
        cycles++;
        claimMs.push(t1 - t0);
      }
    }
  };

  const running = conns.map(loop);
  await Promise.race([sleep(warmupSeconds * 1000), Promise.all(running)]);
  hooks.onMeasureStart?.();
  started = performance.now();
  measuring = true;
  await Promise.race([sleep(seconds * 1000), Promise.all(running)]);
  measuring = false;
  hooks.onMeasureEnd?.();
  const elapsed = exhaustedAt ?? (performance.now() - started) / 1000;
  stopping = true;
  await Promise.all(running);
  await Promise.all(conns.map((c) => c.end()));
  return { clients, cycles, seconds: elapsed, cyclesPerSecond: cycles / elapsed, claim: summarize(claimMs), exhaustedAfter: exhaustedAt };
}
