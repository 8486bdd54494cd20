// `pnpm tsx bench/settlement-ab.ts`: an interleaved A/B of two versions of the settlement consumer's
// SQL path (the decision chain: st_post_events → st_record_decisions → st_settle_assignments →
// st_expected_pay), by the Postgres backend's CPU per batch — a measure a shared, loaded machine
// disturbs far less than wall time.
//
// Both versions are installed side by side in one fresh database (their functions renamed with the
// suffix _a and _b), seeded like bench/settlement.ts (10,000 workers, 100 jobs, accepted assignments).
// Two sessions, one per version, first post AB_PREWARM earnings between them (so both sessions' cached
// plans are made as the tables grow, as a consumer's are), then AB_ROUNDS rounds of one batch each,
// the order alternating; each batch is one autocommit call, so its commit and deferred balance check
// count. CPU: the backend's run time from /proc/<pid>/schedstat around the call (its backends are
// reniced to 15: it yields to whatever else runs). Prints per version the CPU per batch and per
// earning, and the median of the paired per-round differences (B − A).
//
// AB_A, AB_B: a git ref whose packages/db/sql files to use, or `worktree` (the files as they are);
// defaults HEAD and worktree. AB_BATCH_A, AB_BATCH_B (default SETTLEMENT_BATCH), AB_ROUNDS (40),
// AB_PREWARM (60,000), AB_ANALYZE=1 (ANALYZE the ledger tables after the prewarm). Triggers are the installed ones, shared by both: a change to a trigger is not
// measured by this. The database is dropped at the end (AB_KEEP=1 keeps it).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, migrateToLatest, sql, sqlConstants, renderSql, withDatabase } from '@fairlabel/db';
import { SETTLEMENT_BATCH } from '../services/settlement/src/settlement.consumer.js';
import { decidedPayload, seedSettlementBench } from './settlement-seed.js';

const CHAIN = ['st_post_events', 'st_record_decisions', 'st_settle_assignments', 'st_expected_pay'];
/**
 * Every function those files define or call between them, renamed with the side's suffix so that the
 * two sides share none (a name a side's files do not define is left as it is: the installed one).
 */
const CHAIN_FUNCTIONS = [...CHAIN, 'st_insert_decisions', 'st_settle_decisions', 'st_decision_firsts', 'st_decision_hours', 'st_id_set'];
const SIDES = { A: process.env.AB_A ?? 'HEAD', B: process.env.AB_B ?? 'worktree' };
const BATCH = { A: Number(process.env.AB_BATCH_A ?? SETTLEMENT_BATCH), B: Number(process.env.AB_BATCH_B ?? SETTLEMENT_BATCH) };
const ROUNDS = Number(process.env.AB_ROUNDS ?? 40);
const PREWARM = Number(process.env.AB_PREWARM ?? 60_000);
const WORKERS = 10_000;
const JOBS = 100;
const KEEP = process.env.AB_KEEP === '1';
type Side = keyof typeof SIDES;

const repo = fileURLToPath(new URL('..', import.meta.url));
/** The chain's functions at a ref (or as in the worktree), renamed with the side's suffix. */
function chainSql(ref: string, suffix: string): string {
  const rename = new RegExp(`\\b(${CHAIN_FUNCTIONS.join('|')})\\b`, 'g');
  return CHAIN.map((name) => {
    const file = `packages/db/sql/${name}.sql`;
    const source = ref === 'worktree' ? readFileSync(`${repo}/${file}`, 'utf8') : execFileSync('git', ['show', `${ref}:${file}`], { cwd: repo, encoding: 'utf8' });
    // DROP FUNCTION lines remove older signatures of the installed names: not the renamed copies' business.
    const text = renderSql(name, source, sqlConstants).replace(/^DROP FUNCTION.*$/gm, '');
    return `${text.replace(rename, `$1_${suffix}`)};\n`;
  }).join('\n');
}

const cpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * q)]!;

const base = loadConfig();
const database = `fairlabel_ab_settlement_${randomBytes(3).toString('hex')}`;
const url = withDatabase(base.DATABASE_URL, database);
const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const total = PREWARM + ROUNDS * (BATCH.A + BATCH.B) + BATCH.A + BATCH.B;
const pool = createPool(url, 2);
const db = createDb(pool);
const sessions: pg.Client[] = [];
try {
  await migrateToLatest(db);
  // The seed of bench/settlement.ts (its accepted assignments, no outbox rows).
  await seedSettlementBench(db, { workers: WORKERS, jobs: JOBS, assignments: total });
  await sql.raw(chainSql(SIDES.A, 'a')).execute(db);
  await sql.raw(chainSql(SIDES.B, 'b')).execute(db);

  /** The assignment.decided payloads of assignments [from, from + n), as the consumer sends them (bench/settlement.ts's). */
  const payload = async (from: number, n: number) =>
    (
      await sql<{ p: string }>`
        SELECT coalesce(jsonb_agg(${decidedPayload} ORDER BY a.id), '[]')::text AS p
        FROM assignments a WHERE a.id >= ${from}::int AND a.id < ${from + n}::int
      `.execute(db)
    ).rows[0]!.p;

  const session = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    sessions.push(c);
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    execFileSync('renice', ['-n', '15', '-p', String(pid)], { stdio: 'ignore' });
    return { c, pid };
  };
  const backends = { A: await session(), B: await session() };
  let next = 1;
  /** One batch by a side: its backend's CPU and the call's wall time, in ms. */
  const post = async (side: Side) => {
    const p = await payload(next, BATCH[side]);
    next += BATCH[side];
    const { c, pid } = backends[side];
    const cpu0 = cpuNs(pid);
    const t0 = performance.now();
    await c.query(`SELECT * FROM st_post_events_${side.toLowerCase()}($1::jsonb, '[]', '[]')`, [p]);
    return { cpu: (cpuNs(pid) - cpu0) / 1e6, wall: performance.now() - t0 };
  };
  const t0 = performance.now();
  for (let i = 0; next <= PREWARM; i++) await post(i % 2 ? 'B' : 'A');
  console.log(`settlement A/B: A ${SIDES.A} (batches of ${BATCH.A}), B ${SIDES.B} (batches of ${BATCH.B}); ${PREWARM.toLocaleString()} earnings posted first (${((performance.now() - t0) / 1000).toFixed(1)} s), then ${ROUNDS} rounds; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  // AB_ANALYZE=1: fresh statistics of the tables the chain writes (what autovacuum gives a long-running
  // system; the bench's server runs without it), before the measured rounds.
  if (process.env.AB_ANALYZE === '1') await sql`ANALYZE ledger_accounts, ledger_transactions, ledger_postings, settlement_decisions, settlement_work_hours`.execute(db);
  const res: Record<Side, { cpu: number; wall: number }[]> = { A: [], B: [] };
  for (let r = 0; r < ROUNDS; r++) for (const side of r % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) res[side].push(await post(side));
  // The first rounds still make plans (a statement's first five runs in a session are planned each time).
  const skip = Math.min(4, Math.floor(ROUNDS / 5));
  for (const side of ['A', 'B'] as const) {
    const cpu = res[side].slice(skip).map((x) => x.cpu);
    const wall = res[side].slice(skip).map((x) => x.wall);
    console.log(
      `${side}: backend CPU per batch median ${median(cpu).toFixed(2)} ms (p10 ${quantile(cpu, 0.1).toFixed(2)}, p90 ${quantile(cpu, 0.9).toFixed(2)}), ` +
        `${((1000 * median(cpu)) / BATCH[side]).toFixed(1)} µs per earning; wall median ${median(wall).toFixed(2)} ms`,
    );
  }
  const diffs = res.A.slice(skip).map((a, i) => (1000 * res.B[skip + i]!.cpu) / BATCH.B - (1000 * a.cpu) / BATCH.A);
  console.log(`paired per round, B − A: ${median(diffs).toFixed(2)} µs of CPU per earning (p25 ${quantile(diffs, 0.25).toFixed(2)}, p75 ${quantile(diffs, 0.75).toFixed(2)}); load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
} finally {
  for (const c of sessions) await c.end().catch(() => {});
  await db.destroy();
  if (KEEP) console.log(`kept database ${database}`);
  else await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}
