// Sizes and knobs of bench/claim.ts, read from the environment. The defaults are the figures the
// issue asks for; a quick run (under a minute) is e.g.
//   BENCH_TASKS=20000 BENCH_SECONDS=5 BENCH_BASELINE_ROWS=20000 pnpm bench:claim
import { randomBytes } from 'node:crypto';

function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

export interface BenchOptions {
  /** Tasks in the tasks table, spread evenly over `jobs` active jobs. */
  tasks: number;
  jobs: number;
  overlap: number;
  /** Concurrent simulated workers (HTTP loops), and the pg clients of the raw SQL floor. */
  workers: number;
  /** Open-loop phase: offered claim → submit cycles per second (Poisson arrivals); 0 skips it. */
  openRate: number;
  /** Simulated workers the open loop draws from (each in at most one cycle at a time). */
  openWorkers: number;
  /** Measured seconds per system; each is preceded by `warmupSeconds` that are not counted. */
  seconds: number;
  warmupSeconds: number;
  /** Gateway processes under test (each its own Node process and port; workers are spread over them). */
  gateways: number;
  /** PG_POOL_MAX of each gateway process. */
  gatewayPoolMax: number;
  /** Rows of the raw SQL floor's plain table, and jobs of the pg-boss baseline. */
  baselineRows: number;
  pgBossFetchers: number;
  pgBossBatch: number;
  /** Postgres connections the bench leaves free for other users of the server. */
  connectionReserve: number;
  adminUrl: string;
  redisUrl: string;
  database: string;
  redisPrefix: string;
  keepDatabase: boolean;
  /**
   * Interleaved rounds for the throughput bars: each round measures the fairlabel closed loop, the raw
   * SQL floor and pg-boss batch `pgBossBatch` for `roundSeconds` each, in a rotated order, so on a
   * machine others share every system meets the same load on average; 0 skips them.
   */
  rounds: number;
  roundSeconds: number;
  /** The in-process statement profile, EXPLAINs and CPU-per-cycle layers (BENCH_DIAGNOSTICS=0 skips them). */
  diagnostics: boolean;
}

export function readOptions(): BenchOptions {
  const base = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const run = randomBytes(4).toString('hex');
  return {
    tasks: intFromEnv('BENCH_TASKS', 100_000),
    jobs: intFromEnv('BENCH_JOBS', 1),
    overlap: intFromEnv('BENCH_OVERLAP', 3),
    workers: intFromEnv('BENCH_WORKERS', 200),
    openRate: intFromEnv('BENCH_OPEN_RATE', 500, 0),
    openWorkers: intFromEnv('BENCH_OPEN_WORKERS', 1000),
    seconds: intFromEnv('BENCH_SECONDS', 30),
    warmupSeconds: intFromEnv('BENCH_WARMUP_SECONDS', 3, 0),
    gateways: intFromEnv('BENCH_GATEWAYS', 1),
    gatewayPoolMax: intFromEnv('BENCH_GATEWAY_POOL', 20),
    baselineRows: intFromEnv('BENCH_BASELINE_ROWS', 100_000),
    pgBossFetchers: intFromEnv('BENCH_PGBOSS_FETCHERS', 32),
    pgBossBatch: intFromEnv('BENCH_PGBOSS_BATCH', 50),
    connectionReserve: intFromEnv('BENCH_PG_RESERVE', 20, 0),
    adminUrl: base,
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    // Its own name per run, like the Redis prefix: two runs at once (another checkout's) would
    // otherwise drop each other's database WITH (FORCE) in the middle of a measurement.
    database: process.env.BENCH_DATABASE ?? `fairlabel_bench_claim_${run}`,
    redisPrefix: `flbench:${run}`,
    keepDatabase: process.env.BENCH_KEEP_DATABASE === '1',
    diagnostics: process.env.BENCH_DIAGNOSTICS !== '0',
    rounds: intFromEnv('BENCH_ROUNDS', 3, 0),
    roundSeconds: intFromEnv('BENCH_ROUND_SECONDS', 10),
  };
}
