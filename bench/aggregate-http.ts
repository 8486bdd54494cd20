// `pnpm bench aggregate-http` (or `pnpm tsx bench/aggregate-http.ts`): POST /v1/qa/aggregate of
// BENCH_AGG_HTTP_ROWS (default 1,000,000) generated NDJSON rows over HTTP to a real gateway process
// (a child: its peak RSS is its own; a fresh one per method), the response read to the end. Rows as in
// bench/aggregate-memory.ts: BENCH_AGG_HTTP_OVERLAP answers per item (3), BENCH_AGG_HTTP_LABELS labels
// (10), BENCH_AGG_HTTP_WORKERS workers (1,000: a quarter each at 0.9, 0.75, 0.6 accuracy and random),
// 5% gold items; methods BENCH_AGG_HTTP_METHODS (majority,dawid_skene).
// Baselines in the same run: (a) the same service call in process (the same NDJSON text through the
// same reader, aggregator and response writer, no HTTP, no auth; a child process per method, so its
// RSS is its own); (b) Postgres: COPY of the same rows into an unlogged table, then one GROUP BY that
// picks each item's most frequent label (the majority vote in SQL), timed apart.
// Printed per method: time, rows/s, server peak RSS (VmHWM) against the 300 MB bar, the longest
// event-loop stall in the server while it ran, and accuracy against the known truth.
import './secrets-key.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, migrateToLatest, withDatabase } from '@fairlabel/db';
import { generateApiKey } from '@fairlabel/http';
import { seededRandom } from '../services/qa-sampling/src/util/rng.js';

const ROWS = Number(process.env.BENCH_AGG_HTTP_ROWS ?? 1_000_000);
const OVERLAP = Number(process.env.BENCH_AGG_HTTP_OVERLAP ?? 3);
const LABELS = Number(process.env.BENCH_AGG_HTTP_LABELS ?? 10);
const WORKERS = Number(process.env.BENCH_AGG_HTTP_WORKERS ?? 1000);
const METHODS = (process.env.BENCH_AGG_HTTP_METHODS ?? 'majority,dawid_skene').split(',');
const GOLD_SHARE = 0.05;
const ROLE = process.env.BENCH_AGG_HTTP_ROLE ?? 'driver';
const self = fileURLToPath(import.meta.url);

function truthOf(item: number): number {
  return (Math.imul(item + 1, 2654435761) >>> 7) % LABELS;
}

/** The rows, generated on the fly (same seed every time), as chunks of about 2,000 lines. */
function* ndjsonChunks(): Generator<string> {
  const rnd = seededRandom(2026);
  const items = Math.ceil(ROWS / OVERLAP);
  let emitted = 0;
  let chunk = '';
  for (let i = 0; i < items && emitted < ROWS; i++) {
    const t = truthOf(i);
    const gold = rnd() < GOLD_SHARE ? `,"gold":"label-${t}"` : '';
    for (let j = 0; j < OVERLAP && emitted < ROWS; j++, emitted++) {
      const w = Math.floor(rnd() * WORKERS);
      const kind = w % 4;
      const p = kind === 0 ? 0.9 : kind === 1 ? 0.75 : kind === 2 ? 0.6 : 1 / LABELS;
      const l = rnd() < p ? t : Math.floor(rnd() * LABELS);
      chunk += `{"item":"item-${i}","worker":"worker-${w}","label":"label-${l}"${gold}}\n`;
      if (emitted % 2000 === 1999) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}

/** The same rows as COPY text (item, worker, label, gold). */
function* copyChunks(): Generator<string> {
  for (const chunk of ndjsonChunks()) {
    let out = '';
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { item: string; worker: string; label: string; gold?: string };
      out += `${r.item}\t${r.worker}\t${r.label}\t${r.gold ?? '\\N'}\n`;
    }
    yield out;
  }
}

/** Reads the NDJSON response: checks item lines against the truth. */
class ResultCounter extends Writable {
  pending = '';
  lines = 0;
  decided = 0;
  right = 0;
  summary: Record<string, unknown> | null = null;
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    const text = this.pending + chunk.toString();
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.pending = text.slice(start);
    done();
  }
  private line(text: string): void {
    this.lines++;
    if (this.lines === 1) {
      this.summary = JSON.parse(text) as Record<string, unknown>;
      return;
    }
    if (!text.startsWith('{"type":"item"')) return;
    const r = JSON.parse(text) as { item: string; label: string | null; gold: string | null };
    if (r.gold !== null) return;
    this.decided++;
    if (r.label === `label-${truthOf(Number(r.item.slice(5)))}`) this.right++;
  }
}

/** The gateway side: the real gateway (every route plugin, auth, rate limits, docs), plus an event-loop monitor. */
async function serve(): Promise<void> {
  const { createDeps } = await import('@fairlabel/runtime');
  const { createLogger } = await import('@fairlabel/observability');
  const { buildGateway } = await import('../services/gateway/src/app.js');
  const deps = createDeps(loadConfig(), 'bench-gateway', { logger: createLogger({ level: 'warn', name: 'bench-gateway' }) });
  const app = await buildGateway(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // On a shared machine a wall-clock stall is mostly waiting for a core. The CPU this process used
  // between two consecutive 5 ms ticks is what it ran without a turn of the loop, whatever the load.
  let lastCpu = process.cpuUsage();
  let maxCpuMs = 0;
  setInterval(() => {
    const now = process.cpuUsage();
    maxCpuMs = Math.max(maxCpuMs, (now.user - lastCpu.user + now.system - lastCpu.system) / 1000);
    lastCpu = now;
  }, 5).unref();
  // Each SIGUSR2 prints the stalls since the last one and starts over: the driver takes one reading
  // of the idle gateway (what the shared machine's scheduling alone costs) and one of the request.
  process.on('SIGUSR2', () => {
    console.log(`eventloop ${JSON.stringify({ maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6, maxCpuMs })}`);
    delay.reset();
    maxCpuMs = 0;
  });
  // Printed only now: the driver signals as soon as it reads this, and a signal without a handler kills.
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
  process.on('SIGTERM', () => {
    app
      .close()
      .then(() => deps.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  });
}

/** Baseline (a): the route's service call in process, on the same NDJSON text, response to a counting sink. */
async function inProcess(method: string): Promise<void> {
  const { aggregateBody, outcomeStream } = await import('../services/qa-sampling/src/aggregate-http/aggregate.service.js');
  const { DEFAULT_AGGREGATE_LIMITS } = await import('../services/qa-sampling/src/index.js');
  const { aggregateQuery } = await import('@fairlabel/contracts');
  const started = performance.now();
  const outcome = await aggregateBody({
    body: Readable.from(ndjsonChunks()),
    format: 'ndjson',
    query: aggregateQuery.parse({ method }),
    limits: DEFAULT_AGGREGATE_LIMITS,
  });
  const counter = new ResultCounter();
  await pipeline(outcomeStream(outcome, 'ndjson'), counter);
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, peakMb: process.resourceUsage().maxRSS / 1024, accuracy: counter.right / counter.decided, iterations: outcome.iterations ?? null }));
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}

function peakRssMb(pid: number): number {
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

function currentRssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', self], {
    env: { ...process.env, BENCH_AGG_HTTP_ROLE: 'server', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000', REDIS_PREFIX: `bench-agg-${randomBytes(3).toString('hex')}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code} before listening`)));
  });
  return { child, port, output: () => out };
}

async function post(port: number, key: string, method: string): Promise<{ status: number; counter: ResultCounter; error: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: `/v1/qa/aggregate?method=${method}`, method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' } },
      (res) => {
        const counter = new ResultCounter();
        if (res.statusCode !== 200) {
          let error = '';
          res.on('data', (d: Buffer) => (error += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, counter, error }));
          return;
        }
        pipeline(res, counter).then(() => resolve({ status: 200, counter, error: '' }), reject);
      },
    );
    req.on('error', reject);
    pipeline(Readable.from(ndjsonChunks()), req).catch(reject);
  });
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (ms: number) => `${Math.round((ROWS / ms) * 1000).toLocaleString('en')} rows/s`;

async function drive(): Promise<void> {
  const base = loadConfig();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`aggregate-http: ${ROWS.toLocaleString('en')} NDJSON rows (~${Math.round([...ndjsonChunks()][0]!.length / 2000)} bytes a line), overlap ${OVERLAP}, ${LABELS} labels, ${WORKERS} workers, ${GOLD_SHARE * 100}% gold; node ${process.version}; load average ${load}`);
  const dbName = `fairlabel_bench_agg_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const databaseUrl = withDatabase(base.DATABASE_URL, dbName);
  const pool = createPool(databaseUrl, 2);
  const db = createDb(pool);
  let failed = false;
  try {
    await migrateToLatest(db);
    const org = await db.insertInto('organizations').values({ name: 'bench client', kind: 'client' }).returning('id').executeTakeFirstOrThrow();
    const { key, prefix, hash } = generateApiKey();
    await db.insertInto('api_keys').values({ organization_id: org.id, role: 'client', prefix, key_hash: hash, name: 'bench' }).execute();

    // (b) Postgres: the same rows COPYed in, then the majority vote as one GROUP BY.
    const { from: copyFrom } = createRequire(new URL('../services/task-dispatch/package.json', import.meta.url))('pg-copy-streams') as {
      from: (text: string) => Writable & pg.Submittable;
    };
    const client = await pool.connect();
    await client.query('CREATE UNLOGGED TABLE bench_answers (item text, worker text, label text, gold text)');
    const copyStart = performance.now();
    await pipeline(Readable.from(copyChunks()), client.query(copyFrom('COPY bench_answers FROM STDIN')));
    const copyMs = performance.now() - copyStart;
    await client.query('VACUUM ANALYZE bench_answers');
    const groupStart = performance.now();
    const grouped = await client.query<{ items: string }>(
      `SELECT count(*)::text AS items FROM (
         SELECT DISTINCT ON (item) item, label, n FROM (SELECT item, label, count(*) AS n FROM bench_answers GROUP BY item, label) c ORDER BY item, n DESC, label
       ) m`,
    );
    const groupMs = performance.now() - groupStart;
    client.release();
    console.log(`baseline (b) Postgres COPY of the rows       : ${fmt(copyMs)}  (${rate(copyMs)})`);
    console.log(`baseline (b) Postgres GROUP BY majority      : ${fmt(groupMs)}  (${rate(groupMs)}; ${Number(grouped.rows[0]!.items).toLocaleString('en')} items)`);

    for (const method of METHODS) {
      // (a) The same service call in process, in its own child.
      const a = spawnSync(process.execPath, ['--import', 'tsx', self], { env: { ...process.env, BENCH_AGG_HTTP_ROLE: 'in-process', BENCH_AGG_HTTP_METHOD: method }, encoding: 'utf8' });
      const aLine = a.stdout.trim().split('\n').pop() ?? '';
      if (a.status !== 0 || !aLine.startsWith('{')) {
        console.error(`in-process ${method} failed:\n${a.stderr}`);
        failed = true;
        continue;
      }
      const inproc = JSON.parse(aLine) as { ms: number; peakMb: number; accuracy: number; iterations: number | null };

      const server = await startServer(databaseUrl);
      try {
        const idleMb = currentRssMb(server.child.pid!);
        const loopReading = async () => {
          const before = (server.output().match(/eventloop /g) ?? []).length;
          server.child.kill('SIGUSR2');
          while ((server.output().match(/eventloop /g) ?? []).length === before) {
            if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`the gateway exited (${server.child.exitCode ?? server.child.signalCode})`);
            await new Promise((r) => setTimeout(r, 20));
          }
          const all = [...server.output().matchAll(/eventloop (\{.*\})/g)];
          return JSON.parse(all[all.length - 1]![1]!) as { maxMs: number; p99Ms: number; maxCpuMs: number };
        };
        await loopReading();
        await new Promise((r) => setTimeout(r, 5000));
        const idleLoop = await loopReading();
        const cpuStart = cpuMs(server.child.pid!);
        const started = performance.now();
        const res = await post(server.port, key, method);
        const ms = performance.now() - started;
        const cpu = cpuMs(server.child.pid!) - cpuStart;
        const peak = peakRssMb(server.child.pid!);
        const loop = await loopReading();
        if (res.status !== 200) {
          console.error(`POST ${method} answered ${res.status}: ${res.error.slice(0, 500)}`);
          failed = true;
          continue;
        }
        const s = res.counter.summary as { rows: number; items: number; iterations: number | null };
        if (s.rows !== ROWS) {
          console.error(`POST ${method} aggregated ${s.rows} of ${ROWS} rows`);
          failed = true;
        }
        const pass = peak < 300;
        if (!pass) failed = true;
        console.log(`\n${method}${s.iterations !== null ? ` (${s.iterations} EM iterations)` : ''}`);
        console.log(`  POST /v1/qa/aggregate over HTTP        : ${fmt(ms)}  (${rate(ms)}); gateway CPU ${fmt(cpu)}; accuracy ${(res.counter.right / res.counter.decided).toFixed(4)} on ${res.counter.decided.toLocaleString('en')} non-gold items`);
        console.log(`  (a) same service call in process       : ${fmt(inproc.ms)}  (${rate(inproc.ms)}); peak RSS ${inproc.peakMb.toFixed(0)} MB; accuracy ${inproc.accuracy.toFixed(4)}`);
        console.log(`  HTTP / in process ${(ms / inproc.ms).toFixed(2)}x; HTTP / Postgres COPY + GROUP BY ${(ms / (copyMs + groupMs)).toFixed(2)}x; / GROUP BY alone ${(ms / groupMs).toFixed(2)}x`);
        console.log(`  gateway RSS: idle ${idleMb.toFixed(0)} MB, peak (VmHWM) ${peak.toFixed(0)} MB   (bar: < 300 MB)  ${pass ? 'PASS' : 'FAIL'}`);
        console.log(
          `  gateway event loop during the request: longest stall ${loop.maxMs.toFixed(0)} ms wall (p99 ${loop.p99Ms.toFixed(0)} ms), at most ${loop.maxCpuMs.toFixed(0)} ms of CPU between two turns; ` +
            `idle for 5 s before it: ${idleLoop.maxMs.toFixed(0)} ms wall, ${idleLoop.maxCpuMs.toFixed(0)} ms CPU`,
        );
      } finally {
        if (server.child.exitCode === null && server.child.signalCode === null) {
          server.child.kill('SIGTERM');
          await new Promise((r) => server.child.once('exit', r));
        }
      }
    }
  } finally {
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
  process.exit(failed ? 1 : 0);
}

if (ROLE === 'server') await serve();
else if (ROLE === 'in-process') await inProcess(process.env.BENCH_AGG_HTTP_METHOD ?? 'majority');
else await drive();
