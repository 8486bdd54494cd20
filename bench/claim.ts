// bench/claim: the worker claim through the real gateway over HTTP, against three baselines measured
// in the same run on the same Postgres and Redis:
//   (a) the raw SQL floor — bare pg clients: UPDATE … (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) + a completion UPDATE;
//   (b) pg-boss fetch + complete with 32 fetchers at batch size 50 (and 1);
//   (c) a hello-world fastify route under the same HTTP load.
// The bars (issue 14): closed loop of 200 workers, cycles/s >= 0.5 x the raw SQL floor and >= 1.5 x pg-boss
// batch 50; open loop (Poisson arrivals) at 500 cycles/s offered, claim p99 <= 50 ms and no errors.
// Sizes come from BENCH_* variables (bench/claim/options.ts); defaults are the issue's figures.
import './secrets-key.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { cpuPerCycle } from './claim/cpu-per-cycle.js';
import { summarizeCpuProfile } from './claim/cpu-profile.js';
import { runClosedLoop, type Cycle, type LoadResult } from './claim/http-load.js';
import { runOpenLoop, type OpenLoopResult } from './claim/open-loop.js';
import { readOptions } from './claim/options.js';
import { runPgBoss, type PgBossResult } from './claim/pg-boss.js';
import { cpuMeter, loadAverage, startNodeServer, type CpuSplit, type Served } from './claim/processes.js';
import { profileClaims } from './claim/profile.js';
import { runRawSql, setUpRawQueue, type RawSqlResult } from './claim/raw-sql.js';
import { createScratchDatabase, dropDatabase, reuseSeeded, seed, type SeededWorker } from './claim/seed.js';
import { fmtMs, fmtRate, table } from './claim/stats.js';

const opts = readOptions();
const servers: Served[] = [];
const cpuText = (c: CpuSplit) =>
  `cpu (cores busy): server processes ${c.servers.toFixed(2)}, postgres ${c.postgres.toFixed(2)}, load driver ${c.driver.toFixed(2)}, whole machine ${c.machine.toFixed(2)} of ${os.cpus().length}`;
const phase = (name: string) => console.log(`\n--- ${name} (load average ${loadAverage()})`);

/** The server's own time for a request, from its `Server-Timing: app;dur=…` header (NaN without one). */
function serverTiming(header: string | string[] | undefined): number {
  const m = /(?:^|,)\s*app;dur=([0-9.]+)/.exec(Array.isArray(header) ? header.join(',') : (header ?? ''));
  return m ? Number(m[1]) : NaN;
}

interface Pauses {
  /** Garbage collection time and count so far, per kind (prom-client's nodejs_gc_duration_seconds). */
  gc: Record<string, { seconds: number; count: number }>;
  /** The longest event-loop delay since the previous scrape (prom-client resets it at each). */
  lagMaxSeconds: number;
}

/** The gateway's own pauses from its /metrics: garbage collection and event-loop delay. */
async function gatewayPauses(g: Served): Promise<Pauses> {
  const text = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
  const gc: Pauses['gc'] = {};
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{[^}]*kind="(\w+)"[^}]*\} ([0-9.e+-]+)$/gm)) {
    const entry = (gc[m[2]!] ??= { seconds: 0, count: 0 });
    if (m[1] === 'sum') entry.seconds = Number(m[3]);
    else entry.count = Number(m[3]);
  }
  const lag = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text);
  return { gc, lagMaxSeconds: lag ? Number(lag[1]) : NaN };
}

function pausesText(before: Pauses, after: Pauses): string {
  const kinds = Object.entries(after.gc)
    .map(([kind, a]) => {
      const b = before.gc[kind] ?? { seconds: 0, count: 0 };
      return `${kind} ${a.count - b.count}× ${((a.seconds - b.seconds) * 1000).toFixed(0)} ms`;
    })
    .join(', ');
  return `garbage collection in the phase: ${kinds}; longest event-loop delay ${(after.lagMaxSeconds * 1000).toFixed(1)} ms`;
}

/** What a simulated worker does: claim, then submit a valid label for it. */
function claimCycle(workers: SeededWorker[]): Cycle {
  const reported = new Set<string>();
  const fail = async (what: string, status: number, body: { text(): Promise<string> }) => {
    const code = `${what}_${status}`;
    const text = await body.text();
    if (!reported.has(code)) {
      reported.add(code);
      console.log(`  first ${code}: ${text.slice(0, 300)}`);
    }
    return code;
  };
  return async ({ pool, loop, dueAt, recordClaim, recordClaimSplit, recordOther }) => {
    const authorization = `Bearer ${workers[loop % workers.length]!.key}`;
    const t0 = performance.now();
    const res = await pool.request({ method: 'POST', path: '/v1/assignments/next', headers: { authorization } });
    if (res.statusCode === 204) {
      await res.body.dump();
      return 'idle';
    }
    if (res.statusCode !== 200) return fail('claim', res.statusCode, res.body);
    const assignment = (await res.body.json()) as { id: number; label_config: { controls: { name: string; choices: string[] }[] } };
    recordClaim(performance.now() - t0);
    recordClaimSplit?.({ totalMs: performance.now() - dueAt, beforeSendMs: t0 - dueAt, serverMs: serverTiming(res.headers['server-timing']) });
    const control = assignment.label_config.controls[0]!;
    const labels = control.choices;
    const t1 = performance.now();
    const sub = await pool.request({
      method: 'POST',
      path: `/v1/assignments/${assignment.id}/submit`,
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ answer: { [control.name]: { choices: [labels[Math.floor(Math.random() * labels.length)]] } }, time_spent_ms: 5000 + Math.floor(Math.random() * 10_000) }),
    });
    if (sub.statusCode !== 200) return fail('submit', sub.statusCode, sub.body);
    await sub.body.dump();
    recordOther(performance.now() - t1);
    return 'ok';
  };
}

/** The same two requests per cycle (an empty POST, then a small JSON POST) against the hello route. */
const helloCycle: Cycle = async ({ pool, recordClaim, recordOther }) => {
  const t0 = performance.now();
  const a = await pool.request({ method: 'POST', path: '/hello' });
  await a.body.dump();
  recordClaim(performance.now() - t0);
  const t1 = performance.now();
  const b = await pool.request({
    method: 'POST',
    path: '/hello',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ answer: { label: { choices: ['cat'] } }, time_spent_ms: 5000 }),
  });
  await b.body.dump();
  recordOther(performance.now() - t1);
  return a.statusCode === 200 && b.statusCode === 200 ? 'ok' : `hello_${a.statusCode}_${b.statusCode}`;
};

async function startServers(script: string, env: Record<string, string>, readyPath: string, count: number, nodeArgs: string[] = []): Promise<Served[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startNodeServer(script, env, readyPath, nodeArgs)));
  servers.push(...started);
  return started;
}

async function stopServers(list: Served[]): Promise<void> {
  await Promise.all(list.map((s) => s.stop()));
  for (const s of list) servers.splice(servers.indexOf(s), 1);
}

async function measureHttp(
  list: Served[],
  cycle: Cycle,
  loops: number,
  seconds: number,
  warmupSeconds: number,
  url: string,
): Promise<{ load: LoadResult; cpu: CpuSplit; window: { start: number; end: number }; commitsPerCycle: string; wal: string }> {
  const meter = cpuMeter(() => list.map((s) => s.child.pid!), opts.database);
  const commits = commitMeter(url);
  let cpu: CpuSplit | null = null;
  const window = { start: 0, end: 0 };
  const load = await runClosedLoop({
    origins: list.map((s) => `http://127.0.0.1:${s.port}`),
    loops,
    warmupSeconds,
    seconds,
    cycle,
    onMeasureStart: () => {
      window.start = performance.now();
      meter.start();
      commits.start();
    },
    onMeasureEnd: () => {
      window.end = performance.now();
      cpu = meter.stop();
      commits.stop();
    },
  });
  return { load, cpu: cpu!, window, commitsPerCycle: await commits.perCycle(load.cycles), wal: await commits.wal(load.cycles) };
}

interface ServerCounters {
  /** Transactions committed in the bench database (pg_stat_database; backends report them within about a second). */
  commits: number;
  /** Checkpoints the server started, and its WAL position in bytes (server-wide: other databases' work counts too). */
  checkpoints: number;
  lsnBytes: number;
}

/** The counters commitMeter compares, read in one query. */
async function serverSoFar(url: string): Promise<ServerCounters> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ commits: string; checkpoints: string; lsn: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS commits,
              (checkpoints_timed + checkpoints_req)::text AS checkpoints, (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS lsn
       FROM pg_stat_bgwriter`,
    );
    const row = r.rows[0]!;
    return { commits: Number(row.commits), checkpoints: Number(row.checkpoints), lsnBytes: Number(row.lsn) };
  } finally {
    await c.end();
  }
}

/**
 * Counts commits between start() and stop(): how many transactions a cycle cost (batching makes it less
 * than 2). Also the checkpoints the server started and the WAL it wrote meanwhile: a checkpoint makes
 * the next change of every page write the whole page to WAL, and on this machine the open loop's tail
 * came in the runs where one started (so a run's p99 is read next to it).
 */
function commitMeter(url: string) {
  const none: ServerCounters = { commits: 0, checkpoints: 0, lsnBytes: 0 };
  let at: Promise<ServerCounters> = Promise.resolve(none);
  let until = at;
  return {
    start: () => void (at = serverSoFar(url)),
    stop: () => void (until = serverSoFar(url)),
    async perCycle(cycles: number): Promise<string> {
      const [a, b] = await Promise.all([at, until]);
      return cycles > 0 ? ((b.commits - a.commits) / cycles).toFixed(2) : '—';
    },
    /** Checkpoints started and WAL written between start() and stop(), as a line to print. */
    async wal(cycles: number): Promise<string> {
      const [a, b] = await Promise.all([at, until]);
      const bytes = b.lsnBytes - a.lsnBytes;
      const perCycle = cycles > 0 ? `, ${(bytes / cycles / 1024).toFixed(1)} kB a cycle` : '';
      return `checkpoints started in the phase: ${b.checkpoints - a.checkpoints} (server-wide); WAL written: ${(bytes / 1048576).toFixed(0)} MB${perCycle}`;
    },
  };
}

function printLoad(name: string, r: LoadResult, cpu: CpuSplit) {
  console.log(
    `  ${name}: ${fmtRate(r.cyclesPerSecond)} cycles/s (${r.cycles} cycles in ${r.seconds.toFixed(1)} s); ` +
      `first request p50/p95/p99/max ${fmtMs(r.claim?.p50)}/${fmtMs(r.claim?.p95)}/${fmtMs(r.claim?.p99)}/${fmtMs(r.claim?.max)} ms; ` +
      `second request p50/p99 ${fmtMs(r.other?.p50)}/${fmtMs(r.other?.p99)} ms; idle ${r.idle}; errors ${JSON.stringify(r.errors)}`,
  );
  console.log(`  ${cpuText(cpu)}`);
}

function printOpen(r: OpenLoopResult, cpu: CpuSplit) {
  console.log(
    `  open loop: offered ${fmtRate(r.offeredPerSecond)}/s, achieved ${fmtRate(r.completedPerSecondInWindow)} cycles/s finished inside the window ` +
      `(${r.cycles} of the window's ${r.offered} arrivals served in full); ` +
      `claim (from the arrival) p50/p95/p99/max ${fmtMs(r.claim?.p50)}/${fmtMs(r.claim?.p95)}/${fmtMs(r.claim?.p99)}/${fmtMs(r.claim?.max)} ms; ` +
      `submit p50/p99 ${fmtMs(r.other?.p50)}/${fmtMs(r.other?.p99)} ms; idle ${r.idle}; unfinished ${r.unfinished}; waited for a free worker ${r.waitedForWorker}; errors ${JSON.stringify(r.errors)}`,
  );
  console.log(`  ${cpuText(cpu)}`);
  const s = r.slowestClaims;
  if (s)
    console.log(
      `  the slowest 1% of claims (${s.count}), mean ${fmtMs(s.totalMs)} ms: ${fmtMs(s.beforeSendMs)} ms in the driver before sending, ` +
        `${fmtMs(s.serverMs)} ms held by the gateway (its Server-Timing), ${fmtMs(s.elsewhereMs)} ms elsewhere (network, the gateway's socket queue and event loop before fastify saw it, reading the reply)`,
    );
}

async function connectionHeadroom(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ free: number }>(
      `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*)::int AS free FROM pg_stat_activity`,
    );
    return r.rows[0]!.free;
  } finally {
    await c.end();
  }
}

async function deleteRedisKeys(): Promise<number> {
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${opts.redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

async function main() {
  console.log(
    `bench/claim: ${opts.tasks.toLocaleString('en-US')} tasks across ${opts.jobs} active job(s), overlap ${opts.overlap}, ${opts.workers} workers, ` +
      `${opts.seconds} s measured after ${opts.warmupSeconds} s warm-up per system; ${opts.gateways} gateway process(es) with PG_POOL_MAX=${opts.gatewayPoolMax}; ` +
      `baselines on ${opts.baselineRows.toLocaleString('en-US')} rows/jobs`,
  );
  console.log(`machine: ${os.cpus().length} cores, node ${process.version}; database ${opts.database}; Redis prefix ${opts.redisPrefix}`);

  phase('seeding');
  const reused = process.env.BENCH_REUSE_DATABASE === '1' ? await reuseSeeded(opts) : null;
  if (reused) console.log(`  reusing ${opts.database}, seeded by an earlier run (BENCH_REUSE_DATABASE=1): migrated, fresh API keys`);
  const url = reused?.url ?? (await createScratchDatabase(opts));
  const seeded = reused ?? (await seed(opts, url));
  console.log(`  seeded in ${seeded.seedSeconds.toFixed(1)} s: ${seeded.tableSizes.map((t) => `${t.table} ≈${t.rows.toLocaleString('en-US')} rows ${t.size}`).join(', ')}`);

  if (process.env.BENCH_SEED_ONLY === '1') {
    // Seeding ahead of a measurement (10M tasks take minutes): keep the database for BENCH_REUSE_DATABASE=1.
    opts.keepDatabase = true;
    return;
  }
  const gatewayEnv = {
    DATABASE_URL: url,
    REDIS_URL: opts.redisUrl,
    REDIS_PREFIX: opts.redisPrefix,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000000',
    PG_POOL_MAX: String(opts.gatewayPoolMax),
  };
  phase(`claim through ${opts.gateways} gateway process(es): one worker alone (unloaded latency)`);
  const profileDir = process.env.BENCH_CPU_PROFILE === '1' ? mkdtempSync(path.join(os.tmpdir(), 'bench-claim-cpuprof-')) : null;
  const gateways = await startServers('services/gateway/src/main.ts', gatewayEnv, '/readyz', opts.gateways, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  const alone = await measureHttp(gateways.slice(0, 1), claimCycle(seeded.workers), 1, Math.min(5, opts.seconds), 1, url);
  printLoad('1 worker', alone.load, alone.cpu);

  phase(`claim through ${opts.gateways} gateway process(es): ${opts.workers} workers`);
  const claim = await measureHttp(gateways, claimCycle(seeded.workers), opts.workers, opts.seconds, opts.warmupSeconds, url);
  printLoad(`${opts.workers} workers`, claim.load, claim.cpu);
  console.log(`  Postgres commits per cycle: ${claim.commitsPerCycle} (one-by-one claims and submits: 2); ${claim.wal}`);

  let open: { load: OpenLoopResult; cpu: CpuSplit } | null = null;
  if (opts.openRate > 0) {
    phase(`claim through ${opts.gateways} gateway process(es): open loop, ${opts.openRate} cycles/s offered (Poisson), up to ${opts.openWorkers} workers`);
    const meter = cpuMeter(() => gateways.map((s) => s.child.pid!), opts.database);
    const commits = commitMeter(url);
    let cpu: CpuSplit | null = null;
    const pausesBefore = await Promise.all(gateways.map(gatewayPauses));
    const load = await runOpenLoop({
      origins: gateways.map((s) => `http://127.0.0.1:${s.port}`),
      workers: opts.openWorkers,
      rate: opts.openRate,
      warmupSeconds: opts.warmupSeconds,
      seconds: opts.seconds,
      cycle: claimCycle(seeded.workers),
      onMeasureStart: () => {
        meter.start();
        commits.start();
      },
      onMeasureEnd: () => {
        cpu = meter.stop();
        commits.stop();
      },
    });
    open = { load, cpu: cpu! };
    printOpen(load, cpu!);
    for (const [i, g] of gateways.entries()) console.log(`  gateway ${i + 1}: ${pausesText(pausesBefore[i]!, await gatewayPauses(g))}`);
    console.log(`  Postgres commits per cycle: ${await commits.perCycle(load.cycles)}; ${await commits.wal(load.cycles)}`);
  }
  const interleaved = opts.rounds > 0 && process.env.BENCH_BASELINES !== '0' ? await interleavedRounds(gateways, seeded.workers, url) : null;
  await stopServers(gateways);
  if (profileDir) {
    const exited = performance.now();
    console.log(summarizeCpuProfile(profileDir, exited - claim.window.start, exited - claim.window.end).replace(/^/gm, '  '));
    rmSync(profileDir, { recursive: true, force: true });
  }

  if (process.env.BENCH_BASELINES === '0') {
    // Iterating on the claim: only the fairlabel phases (their lines above), no baselines or bars.
    console.log(`\nclaim run ${cpuText(claim.cpu)} (BENCH_BASELINES=0: baselines skipped)`);
    return;
  }

  if (opts.diagnostics) {
    phase('claim profile (in-process, sequential) and EXPLAIN of the claim queries');
    const profile = await profileClaims(url, opts.redisUrl, opts.redisPrefix, seeded.workers, seeded.vendorId, 200);
    console.log(`  claim wall p50/p99 ${fmtMs(profile.claimWall?.p50)}/${fmtMs(profile.claimWall?.p99)} ms, submit wall p50/p99 ${fmtMs(profile.submitWall?.p50)}/${fmtMs(profile.submitWall?.p99)} ms`);
    console.log(profile.statements.replace(/^/gm, '  '));
    for (const e of profile.explains) {
      console.log(`\n  EXPLAIN (ANALYZE, BUFFERS) — ${e.name}\n${e.sql.replace(/^\s*/gm, '    ')}\n`);
      console.log(e.plan.replace(/^/gm, '    '));
    }

    phase('CPU per cycle, one cycle at a time (CPU time, so other load on the machine does not distort it)');
    await setUpRawQueue(url, opts.baselineRows);
    const perCycle = await cpuPerCycle({
      url,
      redisUrl: opts.redisUrl,
      prefix: opts.redisPrefix,
      database: opts.database,
      workers: seeded.workers,
      vendorId: seeded.vendorId,
      rawTable: 'bench_raw_queue',
      cycles: 200,
    });
    console.log(perCycle.text.replace(/^/gm, '  '));
  }

  phase(`baseline (c): hello-world fastify route, ${opts.gateways} process(es), ${opts.workers} loops`);
  const helloServers = await startServers('bench/claim/hello-server.ts', {}, '/readyz', opts.gateways);
  const hello = await measureHttp(helloServers, helloCycle, opts.workers, opts.seconds, opts.warmupSeconds, url);
  printLoad('hello', hello.load, hello.cpu);
  await stopServers(helloServers);

  const sqlClients = Math.max(1, Math.min(opts.workers, (await connectionHeadroom(url)) - opts.connectionReserve));
  phase(`baseline (a): raw SQL floor, ${sqlClients} pg clients on ${opts.baselineRows.toLocaleString('en-US')} rows`);
  if (sqlClients < opts.workers) {
    console.log(`  only ${sqlClients} connections are free (max_connections minus current use minus ${opts.connectionReserve} left for others), not ${opts.workers}`);
  }
  await setUpRawQueue(url, opts.baselineRows);
  const rawMeter = cpuMeter(() => [], opts.database);
  let rawCpu: CpuSplit | null = null;
  const raw: RawSqlResult = await runRawSql(url, sqlClients, opts.warmupSeconds, opts.seconds, {
    onMeasureStart: () => rawMeter.start(),
    onMeasureEnd: () => (rawCpu = rawMeter.stop()),
  });
  console.log(
    `  ${fmtRate(raw.cyclesPerSecond)} cycles/s (${raw.cycles} in ${raw.seconds.toFixed(1)} s${raw.exhaustedAfter !== null ? ', table drained' : ''}); ` +
      `claim p50/p95/p99 ${fmtMs(raw.claim?.p50)}/${fmtMs(raw.claim?.p95)}/${fmtMs(raw.claim?.p99)} ms`,
  );
  console.log(`  ${cpuText(rawCpu!)}`);

  const boss: PgBossResult[] = [];
  for (const batchSize of [opts.pgBossBatch, 1]) {
    phase(`baseline (b): pg-boss 10.4.2, ${opts.pgBossFetchers} fetchers, batch size ${batchSize}, ${opts.baselineRows.toLocaleString('en-US')} jobs`);
    const r = await runPgBoss(url, { jobs: opts.baselineRows, fetchers: opts.pgBossFetchers, batchSize, warmupSeconds: opts.warmupSeconds, seconds: opts.seconds });
    console.log(`  ${fmtRate(r.jobsPerSecond)} jobs/s (${r.jobs} jobs in ${r.seconds.toFixed(1)} s${r.drained ? ', queue drained' : ''})`);
    boss.push(r);
  }

  const c = claim.load;
  const boss50 = boss[0]!;
  const boss1 = boss[1]!;
  const helloRate = hello.load.cyclesPerSecond;
  console.log(`\n=== results (load average at the end ${loadAverage()})\n`);
  console.log(
    table(
      ['system', 'cycles/s', 'claim p50 ms', 'p95 ms', 'p99 ms', 'note'],
      [
        [`fairlabel claim+submit, HTTP, ${opts.gateways} gateway(s)`, fmtRate(c.cyclesPerSecond), fmtMs(c.claim?.p50), fmtMs(c.claim?.p95), fmtMs(c.claim?.p99), `${opts.workers} workers`],
        ...(open
          ? [[
              `fairlabel open loop, ${fmtRate(open.load.offeredPerSecond)}/s offered`,
              fmtRate(open.load.completedPerSecondInWindow),
              fmtMs(open.load.claim?.p50),
              fmtMs(open.load.claim?.p95),
              fmtMs(open.load.claim?.p99),
              `max ${fmtMs(open.load.claim?.max)} ms, errors ${openErrors(open.load)}`,
            ]]
          : []),
        ['fairlabel claim+submit, HTTP, 1 worker alone', fmtRate(alone.load.cyclesPerSecond), fmtMs(alone.load.claim?.p50), fmtMs(alone.load.claim?.p95), fmtMs(alone.load.claim?.p99), 'unloaded latency'],
        ['(a) raw SQL floor', fmtRate(raw.cyclesPerSecond), fmtMs(raw.claim?.p50), fmtMs(raw.claim?.p95), fmtMs(raw.claim?.p99), `${raw.clients} pg clients`],
        [`(b) pg-boss batch ${boss50.batchSize}`, fmtRate(boss50.jobsPerSecond), '', '', '', `${boss50.fetchers} fetchers, jobs/s`],
        ['(b) pg-boss batch 1', fmtRate(boss1.jobsPerSecond), '', '', '', `${boss1.fetchers} fetchers, jobs/s`],
        ['(c) hello-world fastify, 2 req/cycle', fmtRate(helloRate), fmtMs(hello.load.claim?.p50), fmtMs(hello.load.claim?.p95), fmtMs(hello.load.claim?.p99), `${opts.workers} loops`],
      ],
    ),
  );
  // With interleaved rounds the throughput bars are theirs (every system met the same load on average);
  // the single runs above, a minute or more apart, are then printed as information.
  const barRates = interleaved
    ? { cycles: rate(interleaved.fairlabel), raw: rate(interleaved.raw), boss50: rate(interleaved.boss), how: `interleaved, ${interleaved.rounds} rounds × ${opts.roundSeconds} s` }
    : { cycles: c.cyclesPerSecond, raw: raw.cyclesPerSecond, boss50: boss50.jobsPerSecond, how: 'single runs' };
  if (interleaved) {
    console.log(
      `\ninterleaved rounds (${interleaved.rounds} × ${opts.roundSeconds} s each, rotated order): fairlabel closed loop ${fmtRate(barRates.cycles)} cycles/s, ` +
        `raw SQL floor ${fmtRate(barRates.raw)} cycles/s, pg-boss batch ${opts.pgBossBatch} ${fmtRate(barRates.boss50)} jobs/s`,
    );
  }
  const bars: [string, string, boolean][] = [
    [`closed loop cycles/s >= 1.5 x pg-boss batch-${boss50.batchSize} jobs/s (${barRates.how})`, `${(barRates.cycles / barRates.boss50).toFixed(2)}x`, barRates.cycles >= 1.5 * barRates.boss50],
    [`closed loop cycles/s >= 0.5 x raw SQL floor (${barRates.how})`, `${(barRates.cycles / barRates.raw).toFixed(2)}x`, barRates.cycles >= 0.5 * barRates.raw],
    ...(open
      ? ([
          [`open loop at ${fmtRate(open.load.offeredPerSecond)}/s offered: claim p99 <= 50 ms`, `${fmtMs(open.load.claim?.p99)} ms`, (open.load.claim?.p99 ?? Infinity) <= 50],
          ['open loop: no errors, every arrival served', openErrors(open.load), openErrors(open.load) === '0'],
        ] as [string, string, boolean][])
      : []),
  ];
  // The 10M bar ("within 10% of the 100k figure") compares two runs: BENCH_RESULT_FILE saves this
  // run's figures, BENCH_REFERENCE_FILE names the saved figures of the run to compare with. The ratio
  // of cycles/s is the bar; the same ratio after dividing each run by its own raw floor is printed
  // beside it, since two runs minutes apart on a shared machine get different shares of it.
  const result: RunFigures = {
    tasks: opts.tasks,
    jobs: opts.jobs,
    cycles: barRates.cycles,
    raw: barRates.raw,
    boss50: barRates.boss50,
    openP99: open?.load.claim?.p99 ?? null,
    at: new Date().toISOString(),
    load: loadAverage(),
  };
  if (process.env.BENCH_RESULT_FILE) writeFileSync(process.env.BENCH_RESULT_FILE, JSON.stringify(result, null, 2) + '\n');
  const crossRun: [string, string][] = [];
  const refFile = process.env.BENCH_REFERENCE_FILE;
  if (refFile && existsSync(refFile)) {
    const ref = JSON.parse(readFileSync(refFile, 'utf8')) as RunFigures;
    const ratio = barRates.cycles / ref.cycles;
    const label = `${ref.tasks.toLocaleString('en-US')} tasks / ${ref.jobs} job(s) at ${ref.at}`;
    bars.push([`closed loop cycles/s within 10% of the reference run's (${fmtRate(ref.cycles)}/s, ${label})`, `${ratio.toFixed(2)}x`, ratio >= 0.9]);
    const normalized = barRates.cycles / barRates.raw / (ref.cycles / ref.raw);
    crossRun.push([`  the same, each run's cycles/s divided by its own raw SQL floor`, `${normalized.toFixed(2)}x`]);
  } else if (refFile) {
    console.log(`\n(no reference figures at ${refFile}: the cross-run bar is not printed)`);
  }
  const info: [string, string][] = [
    ...crossRun,
    ...(interleaved
      ? ([
          ['single runs: closed loop cycles/s vs pg-boss batch 50', `${(c.cyclesPerSecond / boss50.jobsPerSecond).toFixed(2)}x`],
          ['single runs: closed loop cycles/s vs raw SQL floor', `${(c.cyclesPerSecond / raw.cyclesPerSecond).toFixed(2)}x`],
        ] as [string, string][])
      : []),
    ['closed loop p99 claim (issue 4 bar, <= 50 ms; see README)', `${fmtMs(c.claim?.p99)} ms`],
    ...(open ? ([['open loop achieved (finished in the window) / offered', `${(open.load.completedPerSecondInWindow / open.load.offeredPerSecond).toFixed(3)}`]] as [string, string][]) : []),
    ['cycles/s vs pg-boss batch 1', `${(c.cyclesPerSecond / boss1.jobsPerSecond).toFixed(2)}x`],
    ['cycles/s vs hello-world fastify cycles/s', `${(c.cyclesPerSecond / helloRate).toFixed(3)}x`],
    ['claim p99 vs raw SQL claim p99', `${((c.claim?.p99 ?? NaN) / (raw.claim?.p99 ?? NaN)).toFixed(1)}x`],
    ['claim p50 vs hello-world p50 (HTTP floor)', `${((c.claim?.p50 ?? NaN) / (hello.load.claim?.p50 ?? NaN)).toFixed(1)}x`],
  ];
  console.log('\n' + table(['bar', 'ratio / value', 'result'], [...bars.map(([n, v, ok]) => [n, v, ok ? 'PASS' : 'FAIL']), ...info.map(([n, v]) => [n, v, 'info'])]));
  console.log(`\nclaim run ${cpuText(claim.cpu)}`);
}

interface Measured {
  count: number;
  seconds: number;
}
const rate = (m: Measured) => m.count / m.seconds;

/**
 * The throughput bars' systems measured in turns: each round runs the fairlabel closed loop (through
 * the gateways already started), the raw SQL floor and pg-boss, BENCH_ROUND_SECONDS each after a 2 s
 * warm-up, in an order rotated every round; counts and seconds are summed per system. On a machine
 * whose other load changes by the minute, this is what makes the ratios comparable.
 */
async function interleavedRounds(gateways: Served[], workers: SeededWorker[], url: string) {
  const sqlClients = Math.max(1, Math.min(opts.workers, (await connectionHeadroom(url)) - opts.connectionReserve));
  const sum = { fairlabel: { count: 0, seconds: 0 }, raw: { count: 0, seconds: 0 }, boss: { count: 0, seconds: 0 } };
  const systems = ['fairlabel', 'raw', 'boss'] as const;
  phase(`interleaved rounds: ${opts.rounds} × (fairlabel closed loop, raw SQL floor with ${sqlClients} clients, pg-boss batch ${opts.pgBossBatch}), ${opts.roundSeconds} s each`);
  for (let round = 0; round < opts.rounds; round++) {
    const line: string[] = [];
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(i + round) % systems.length]!;
      if (system === 'fairlabel') {
        const m = await measureHttp(gateways, claimCycle(workers), opts.workers, opts.roundSeconds, 2, url);
        sum.fairlabel.count += m.load.cycles;
        sum.fairlabel.seconds += m.load.seconds;
        line.push(`fairlabel ${fmtRate(m.load.cyclesPerSecond)}/s`);
      } else if (system === 'raw') {
        await setUpRawQueue(url, opts.baselineRows);
        const m = await runRawSql(url, sqlClients, 2, opts.roundSeconds);
        sum.raw.count += m.cycles;
        sum.raw.seconds += m.seconds;
        line.push(`raw ${fmtRate(m.cyclesPerSecond)}/s`);
      } else {
        const m = await runPgBoss(url, {
          jobs: opts.baselineRows,
          fetchers: opts.pgBossFetchers,
          batchSize: opts.pgBossBatch,
          warmupSeconds: 2,
          seconds: opts.roundSeconds,
          queueSuffix: `-round-${round + 1}`,
        });
        sum.boss.count += m.jobs;
        sum.boss.seconds += m.seconds;
        line.push(`pg-boss ${fmtRate(m.jobsPerSecond)}/s`);
      }
    }
    console.log(`  round ${round + 1}: ${line.join(', ')} (load average ${loadAverage()})`);
  }
  return { rounds: opts.rounds, ...sum };
}

/** What BENCH_RESULT_FILE saves of a run, for a later run's BENCH_REFERENCE_FILE. */
interface RunFigures {
  tasks: number;
  jobs: number;
  cycles: number;
  raw: number;
  boss50: number;
  openP99: number | null;
  at: string;
  load: string;
}

/** Failed cycles of the open loop plus the arrivals it never finished (0 when every arrival was served). */
function openErrors(r: OpenLoopResult): string {
  const failed = Object.values(r.errors).reduce((a, b) => a + b, 0) + r.unfinished + r.idle;
  return String(failed);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.error('bench/claim failed:', err);
  exitCode = 1;
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  if (opts.keepDatabase) console.log(`kept database ${opts.database} (BENCH_KEEP_DATABASE=1)`);
  else await dropDatabase(opts).catch((err) => console.error('could not drop the scratch database', err));
  const keys = await deleteRedisKeys().catch(() => -1);
  console.log(`cleaned up: ${opts.keepDatabase ? 'database kept' : `dropped ${opts.database}`}, deleted ${keys} Redis keys under ${opts.redisPrefix}`);
}
process.exit(exitCode);
