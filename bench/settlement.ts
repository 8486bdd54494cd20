// `pnpm bench settlement` (or `pnpm tsx bench/settlement.ts`): posts BENCH_SETTLEMENT_EARNINGS
// (default 1,000,000) accepted-assignment earnings through the consumer path — `assignment.decided`
// outbox rows, the outbox relay, BullMQ, the settlement consumer (a child process, so its peak RSS is
// its own) and its set-based SQL — then closes one pay run over them. In the same run it measures the
// baselines: the equivalent plain-SQL INSERT … SELECT of the same transactions and postings (into
// empty copies of the ledger tables with their indexes, no triggers), and one GROUP BY of the payable
// balances. To show where the time goes it also posts another BENCH_SETTLEMENT_EARNINGS earnings by
// calling the consumer's SQL path directly (the same handler code and batch size, no Redis), so the
// pay run covers twice that many. Bars (issue 12): posting <= 3x the INSERT … SELECT; pay run <= 3x the GROUP BY; consumer
// peak RSS < 300 MB.
//
// Sizes: BENCH_SETTLEMENT_EARNINGS, BENCH_SETTLEMENT_WORKERS (default 10,000), BENCH_SETTLEMENT_JOBS
// (default 100), BENCH_SETTLEMENT_CONCURRENCY (BullMQ concurrency of the consumer, default the consumer's own),
// BENCH_SETTLEMENT_RELAY_BATCH (events per BullMQ job, default the relay's own, 500).
// It uses its own database (dropped at the end) and Redis prefix, so it can share a machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, migrateToLatest, sql, withDatabase } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { createConsumer, createRedis, DEFAULT_BATCH_EVENTS, deleteKeysWithPrefix, OutboxRelay } from '@fairlabel/queues';
import { SETTLEMENT_BATCH, SETTLEMENT_CONCURRENCY } from '../services/settlement/src/settlement.consumer.js';
import { decidedPayload, seedSettlementBench } from './settlement-seed.js';

const EARNINGS = Number(process.env.BENCH_SETTLEMENT_EARNINGS ?? 1_000_000);
const WORKERS = Number(process.env.BENCH_SETTLEMENT_WORKERS ?? 10_000);
const JOBS = Number(process.env.BENCH_SETTLEMENT_JOBS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_SETTLEMENT_CONCURRENCY ?? SETTLEMENT_CONCURRENCY);
const ROLE = process.env.BENCH_SETTLEMENT_ROLE ?? 'driver';
/**
 * Events per BullMQ job from the relay: by default the relay's own (DEFAULT_BATCH_EVENTS, 500), as it
 * runs in the stack. This bench used 2,000 until 2026-11-30; the consumer holds one job more than its
 * event budget needs (jobConcurrencyFor, sized for the relay's default), so with 2,000-event jobs it
 * held 6,000 events parsed instead of 1,500, and its peak RSS was that of a configuration the stack
 * does not run (297–303 MB at 1M, against 300 MB).
 */
const RELAY_BATCH = Number(process.env.BENCH_SETTLEMENT_RELAY_BATCH ?? DEFAULT_BATCH_EVENTS);
/** Keep the database afterwards (to look at plans); its name is printed. */
const KEEP = process.env.BENCH_SETTLEMENT_KEEP === '1';
/**
 * BENCH_SETTLEMENT_TRANSPORT=0: skip the consumer path and the transport alone (minutes of relay and
 * BullMQ); the first BENCH_SETTLEMENT_EARNINGS are posted through the SQL path untimed instead, so
 * the pay run covers as many. For work on the SQL side; a measured run keeps the default.
 */
const TRANSPORT = process.env.BENCH_SETTLEMENT_TRANSPORT !== '0';
/**
 * BENCH_SETTLEMENT_EXPLAIN=<ms>: auto_explain (with ANALYZE, nested statements and triggers; per-node
 * timing too with BENCH_SETTLEMENT_EXPLAIN_TIMING=1) of every statement of the bench database that
 * takes at least that long, written to the server's log (set on the bench database only: no other
 * session is touched). For profiling; timings with it are not figures.
 */
const EXPLAIN = process.env.BENCH_SETTLEMENT_EXPLAIN;

/**
 * The consumer side: the settlement process's consumer, against the bench database and prefix. With
 * BENCH_SETTLEMENT_NOOP=n it is the same BullMQ consumer (queue, concurrency, payload validation) with
 * handlers that do nothing, and prints `done` after n events: the floor of the transport alone.
 */
async function consume(): Promise<void> {
  const { createDeps } = await import('@fairlabel/runtime');
  const { createSettlementConsumer } = await import('../services/settlement/src/settlement.consumer.js');
  const deps = createDeps(loadConfig(), 'bench-settlement', { logger: createLogger({ level: 'warn', name: 'bench-settlement' }) });
  const noop = Number(process.env.BENCH_SETTLEMENT_NOOP ?? 0);
  let handled = 0;
  const nothing = async () => {
    if (++handled === noop) console.log('done');
  };
  const worker = noop
    ? createConsumer({
        queue: 'settlement',
        handlers: { 'assignment.decided': nothing, 'task.decided': nothing, 'review.completed': nothing },
        connection: deps.redis,
        prefix: deps.prefix,
        logger: deps.logger,
        concurrency: CONCURRENCY,
      })
    : createSettlementConsumer(deps, deps.redis, CONCURRENCY);
  await worker.waitUntilReady();
  console.log('ready');
  process.on('SIGTERM', () => {
    void (async () => {
      await worker.close();
      await deps.close();
      process.exit(0);
    })().catch(() => process.exit(1));
  });
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function drive(): Promise<void> {
  const base = loadConfig();
  const database = `fairlabel_bench_settlement_${randomBytes(3).toString('hex')}`;
  const prefix = `flbench:settlement:${randomBytes(3).toString('hex')}`;
  const url = withDatabase(base.DATABASE_URL, database);
  const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  if (EXPLAIN !== undefined) {
    for (const setting of [
      "session_preload_libraries = 'auto_explain'",
      `auto_explain.log_min_duration = ${Number(EXPLAIN)}`,
      'auto_explain.log_analyze = on',
      'auto_explain.log_nested_statements = on',
      'auto_explain.log_triggers = on',
      `auto_explain.log_timing = ${process.env.BENCH_SETTLEMENT_EXPLAIN_TIMING === '1' ? 'on' : 'off'}`,
    ])
      await admin.query(`ALTER DATABASE ${database} SET ${setting}`);
    console.log(`auto_explain of ${database} in the server log (statements of ${Number(EXPLAIN)} ms or more)`);
  }
  const pool = createPool(url, 4);
  const db = createDb(pool);
  const logger = createLogger({ level: 'warn', name: 'bench' });
  const redis = createRedis(base.REDIS_URL);
  let child: ChildProcess | null = null;
  let relay: OutboxRelay | null = null;
  try {
    await migrateToLatest(db);
    console.log(`settlement bench: ${EARNINGS.toLocaleString()} earnings, ${WORKERS.toLocaleString()} workers, ${JOBS} jobs, consumer concurrency ${CONCURRENCY}`);

    const publishDecisions = async () => {
      await sql`
        INSERT INTO outbox (event, queue, payload)
        SELECT 'assignment.decided', 'settlement', ${decidedPayload}
        FROM assignments a WHERE a.id <= ${EARNINGS}::int ORDER BY a.id
      `.execute(db);
    };

    // ---- seed (not timed): organizations, workers, jobs, tasks, accepted assignments, outbox rows ----
    const seed = await timed(async () => {
      await seedSettlementBench(db, { workers: WORKERS, jobs: JOBS, assignments: 2 * EARNINGS });
      // What QA would publish: one assignment.decided per accepted assignment, as the outbox holds it.
      await publishDecisions();
    });
    console.log(`seeded in ${seconds(seed.ms)} s`);

    // ---- the consumer's SQL path alone (no Redis): the same handler code, the consumer's batches ----
    const { postSettlementEvents } = await import('../services/settlement/src/settlement.consumer.js');
    const postDirect = async (first: number, last: number) => {
      const BATCH = SETTLEMENT_BATCH;
      for (let from = first; from <= last; from += BATCH) {
        const rows = await sql<{ payload: Record<string, unknown> }>`
          SELECT ${decidedPayload} AS payload
          FROM assignments a WHERE a.id >= ${from}::int AND a.id < ${from + BATCH}::int AND a.id <= ${last}::int ORDER BY a.id
        `.execute(db);
        await postSettlementEvents(db, rows.rows.map((r) => ({ event: 'assignment.decided' as const, payload: r.payload as never })));
      }
    };
    const direct = await timed(() => postDirect(EARNINGS + 1, 2 * EARNINGS));

    let posting = { ms: NaN };
    let transport = { ms: NaN };
    let consumerRss = NaN;
    if (TRANSPORT) {
      // ---- the consumer path: relay -> BullMQ -> settlement consumer -> ledger ----
      const env = { ...process.env, BENCH_SETTLEMENT_ROLE: 'consumer', DATABASE_URL: url, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', PG_POOL_MAX: '4' };
      child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child!.on('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
      });
      posting = await timed(async () => {
        relay = new OutboxRelay({ db, databaseUrl: url, redis, prefix, logger, pollMs: 200, batchSize: RELAY_BATCH });
        await relay.start();
        // Done when the ledger holds 2 × EARNINGS transactions (the SQL path's and these). Watched by the
        // highest id, one index probe: a count(*) every 250 ms scanned up to 2M rows each time and kept a
        // Postgres backend ~60 % busy beside the consumer it was timing (seen in top, 2026-11-30). Ids can
        // have gaps (a batch that failed and ran again), so the count confirms once the highest id is there.
        for (;;) {
          const top = await sql<{ id: string | null }>`SELECT max(id)::text AS id FROM ledger_transactions`.execute(db);
          if (Number(top.rows[0]!.id ?? 0) >= 2 * EARNINGS) {
            const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ledger_transactions`.execute(db);
            if (r.rows[0]!.n >= 2 * EARNINGS) break;
          }
          await new Promise((res) => setTimeout(res, 250));
        }
      });
      consumerRss = peakRssMb(child.pid!);
      await relay!.stop();
      relay = null;
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      child = null;

      // ---- the transport alone: the same outbox rows, relay, BullMQ and consumer, handlers that do nothing ----
      await publishDecisions();
      const noopEnv = { ...env, BENCH_SETTLEMENT_NOOP: String(EARNINGS) };
      child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: noopEnv, stdio: ['ignore', 'pipe', 'inherit'] });
      let noopDone: () => void = () => {};
      const finished = new Promise<void>((resolve) => (noopDone = resolve));
      await new Promise<void>((resolve, reject) => {
        child!.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
          if (d.toString().includes('done')) noopDone();
        });
        child!.on('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
      });
      transport = await timed(async () => {
        relay = new OutboxRelay({ db, databaseUrl: url, redis, prefix, logger, pollMs: 200, batchSize: RELAY_BATCH });
        await relay.start();
        await finished;
      });
      await relay!.stop();
      relay = null;
    } else {
      await postDirect(1, EARNINGS);
    }
    const postings = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ledger_postings`.execute(db)).rows[0]!.n;

    // ---- baseline: the same transactions and postings by one plain INSERT … SELECT ----
    await sql`
      CREATE TABLE bench_transactions (LIKE ledger_transactions INCLUDING ALL);
      CREATE TABLE bench_postings (LIKE ledger_postings INCLUDING ALL);
    `.execute(db);
    const plain = await timed(() =>
      sql`
        WITH rated AS (
          SELECT a.id, a.job_id, a.worker_id, a.vendor_id, a.decided_at,
                 st_bp(j.pay_per_annotation, (ARRAY[10000, 11500, 13000, 14500, 16000])[1 + a.id % 5]) AS gross
          FROM assignments a JOIN jobs j ON j.id = a.job_id
          WHERE a.id <= ${EARNINGS}::int
        ),
        tx AS (
          INSERT INTO bench_transactions (key, kind, currency, effective_at, job_id, assignment_id, worker_id, vendor_id, details)
          SELECT 'assignment:' || r.id || ':earning', 'earning', 'USD', r.decided_at, r.job_id, r.id, r.worker_id, r.vendor_id, jsonb_build_object('gross', r.gross)
          FROM rated r
          RETURNING id, assignment_id, (details->>'gross')::bigint AS gross, worker_id, vendor_id
        )
        INSERT INTO bench_postings (transaction_id, leg, account_id, currency, amount)
        SELECT tx.id, l.leg, l.account_id, 'USD', l.amount
        FROM tx
        JOIN ledger_accounts wa ON wa.owner_id = tx.worker_id AND wa.purpose = 'worker_payable' AND wa.currency = 'USD'
        JOIN ledger_accounts va ON va.owner_id = tx.vendor_id AND va.purpose = 'vendor_payable' AND va.currency = 'USD'
        CROSS JOIN (SELECT id FROM ledger_accounts WHERE owner_type = 'platform' AND purpose = 'platform_revenue' AND currency = 'USD') pa
        CROSS JOIN LATERAL (VALUES (1, wa.id, -(tx.gross - st_bp(tx.gross, 1000))), (2, va.id, -st_bp(tx.gross, 1000)), (3, pa.id, tx.gross)) l(leg, account_id, amount)
      `.execute(db),
    );

    // ---- the pay run, through the service, and its baseline GROUP BY of the payable balances ----
    const { createPayRun } = await import('../services/settlement/src/pay-runs.service.js');
    const keyOrg = await sql<{ id: string }>`INSERT INTO organizations (name, kind) VALUES ('bench platform', 'platform') RETURNING id`.execute(db);
    const caller = { keyId: null as unknown as string, keyPrefix: 'bench', role: 'finance' as const, organizationId: keyOrg.rows[0]!.id, organizationKind: 'platform' as const, workerId: null };
    // What autovacuum's analyze would have done after millions of inserts (not timed): the pay run's
    // plans should not be made on statistics of the tables from before the bench filled them.
    await sql`ANALYZE ledger_accounts, ledger_transactions, ledger_postings, settlement_decisions, statements`.execute(db);
    const periodEnd = new Date();
    const run = await timed(() => createPayRun(db, caller, { currency: 'USD', period_start: '2026-01-01T00:00:00Z', period_end: periodEnd.toISOString(), minimum_payout: 0 }, new Date()));
    // Of the pay run, the floors' hours per worker (the kept hours of the period's whole hours, the
    // source rows of its partial edge hours, leases that ended undecided), timed again on its own.
    const { workersInPeriod } = await import('../services/settlement/src/floors.js');
    const floorsPass = await timed(() => workersInPeriod(db, 'USD', new Date('2026-01-01T00:00:00Z'), periodEnd, { earnings: 'floored' }));
    const groupBy = await timed(() =>
      sql`
        SELECT p.account_id, sum(p.amount) FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
        WHERE a.purpose IN ('worker_payable', 'vendor_payable') AND a.currency = 'USD' GROUP BY p.account_id
      `.execute(db),
    );

    const rows: [string, string, string][] = [
      ['posting through the consumer path (relay + BullMQ + consumer)', `${seconds(posting.ms)} s`, `${Math.round(EARNINGS / (posting.ms / 1000)).toLocaleString()} earnings/s`],
      [`the consumer SQL path alone (same handler code, batches of ${SETTLEMENT_BATCH})`, `${seconds(direct.ms)} s`, `${Math.round(EARNINGS / (direct.ms / 1000)).toLocaleString()} earnings/s (another ${EARNINGS.toLocaleString()})`],
      ['plain SQL INSERT … SELECT of the same transactions and postings', `${seconds(plain.ms)} s`, `${Math.round(EARNINGS / (plain.ms / 1000)).toLocaleString()} earnings/s`],
      ['ratio, consumer path (bar <= 3.0x)', `${(posting.ms / plain.ms).toFixed(2)}x`, posting.ms <= 3 * plain.ms ? 'pass' : 'fail'],
      ['ratio, the consumer SQL path alone', `${(direct.ms / plain.ms).toFixed(2)}x`, ''],
      ['the transport alone (relay + BullMQ + consumer, no-op handlers)', `${seconds(transport.ms)} s`, `${Math.round(EARNINGS / (transport.ms / 1000)).toLocaleString()} events/s`],
      ['ratio, the transport alone (the consumer path’s floor)', `${(transport.ms / plain.ms).toFixed(2)}x`, ''],
      [
        'pay run (statements for every payee, floors, cut)',
        `${seconds(run.ms)} s`,
        `${run.value.statements.toLocaleString()} statements, total ${run.value.total}; workers without a floor in USD: ${run.value.floors?.workers_without_floor ?? 0}`,
      ],
      ['  of which the floors’ hours per worker (timed alone)', `${seconds(floorsPass.ms)} s`, `${floorsPass.value.length.toLocaleString()} workers with hours`],
      ['GROUP BY of the payable balances', `${seconds(groupBy.ms)} s`, `${groupBy.value.rows.length.toLocaleString()} accounts`],
      ['ratio, the pay run less its floors’ pass', `${(Math.max(0, run.ms - floorsPass.ms) / groupBy.ms).toFixed(2)}x`, ''],
      ['ratio (bar <= 3.0x)', `${(run.ms / groupBy.ms).toFixed(2)}x`, run.ms <= 3 * groupBy.ms ? 'pass' : 'fail'],
      ['consumer peak RSS (bar < 300 MB)', `${consumerRss.toFixed(0)} MB`, consumerRss < 300 ? 'pass' : 'fail'],
    ];
    console.log(`ledger: ${(2 * EARNINGS).toLocaleString()} transactions, ${postings.toLocaleString()} postings${TRANSPORT ? '' : ' (BENCH_SETTLEMENT_TRANSPORT=0: no consumer path, no transport)'}`);
    for (const [what, figure, note] of rows.filter(([what]) => TRANSPORT || !/consumer path|transport alone|RSS/.test(what))) console.log(`${what.padEnd(66)} ${figure.padStart(10)}  ${note}`);
  } finally {
    if (relay) await (relay as OutboxRelay).stop().catch(() => {});
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await db.destroy();
    // This run's keys only: never anyone else's.
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    if (KEEP) console.log(`kept database ${database}`);
    else await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

if (ROLE === 'consumer') await consume();
else await drive();
