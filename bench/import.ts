// `pnpm tsx bench/import.ts` (or `pnpm bench import`): imports BENCH_IMPORT_ITEMS (default 1,000,000)
// NDJSON items of ~200 bytes of payload through a real gateway HTTP server (a child process, so its
// peak RSS is its own), and, as the baseline, COPYs the same rows straight into an empty copy of the
// tasks table (same columns, same indexes). Bar: API time <= 2.0 x COPY time, gateway peak RSS < 300 MB.
import './secrets-key.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, migrateToLatest, withDatabase } from '@fairlabel/db';
import { generateApiKey } from '@fairlabel/http';

const ITEMS = Number(process.env.BENCH_IMPORT_ITEMS ?? 1_000_000);
const ROLE = process.env.BENCH_IMPORT_ROLE ?? 'driver';
const PAYLOAD_TEXT = 180;

/** The gateway side: the real HTTP stack with the task-dispatch job and import routes. */
async function serve(): Promise<void> {
  const { createDeps } = await import('@fairlabel/runtime');
  const { buildHttpApp } = await import('@fairlabel/http');
  const { createLogger } = await import('@fairlabel/observability');
  const { jobRoutes } = await import('../services/task-dispatch/src/jobs.routes.js');
  const { importRoutes } = await import('../services/task-dispatch/src/import.routes.js');
  const config = loadConfig();
  const deps = createDeps(config, 'bench-gateway', { logger: createLogger({ level: 'warn', name: 'bench-gateway' }) });
  const app = await buildHttpApp({
    deps,
    routes: [{ name: 'task-dispatch', plugin: async (a) => { await a.register(jobRoutes); await a.register(importRoutes); } }],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
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

/** Deterministic, varied text so rows are not all alike. */
function itemText(i: number): string {
  const seed = `${i.toString(36)}-${((i * 2654435761) >>> 0).toString(16)} `;
  return seed.repeat(Math.ceil(PAYLOAD_TEXT / seed.length)).slice(0, PAYLOAD_TEXT);
}
const externalId = (i: number) => `item-${String(i).padStart(8, '0')}`;

function* ndjsonChunks(n: number): Generator<string> {
  const per = 2000;
  for (let start = 0; start < n; start += per) {
    let chunk = '';
    for (let i = start; i < Math.min(n, start + per); i++) chunk += `{"external_id":"${externalId(i)}","data":{"text":"${itemText(i)}","n":${i}}}\n`;
    yield chunk;
  }
}

function* copyChunks(n: number, jobId: string): Generator<string> {
  const per = 2000;
  for (let start = 0; start < n; start += per) {
    let chunk = '';
    for (let i = start; i < Math.min(n, start + per); i++) {
      chunk += `${jobId}\t${externalId(i)}\t{"text":"${itemText(i)}","n":${i}}\t0\t\\N\t\\N\t\\N\t\\N\t1\n`;
    }
    yield chunk;
  }
}

/** CPU time (user + system) a process has used so far, from /proc: shows how busy Postgres was. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; port: number }> {
  // BENCH_IMPORT_PROFILE=<dir> writes a V8 CPU profile of the gateway process there (diagnostics).
  const profile = process.env.BENCH_IMPORT_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_IMPORT_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_IMPORT_ROLE: 'server', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code} before listening`)));
  });
  return { child, port };
}

async function postNdjson(port: number, path: string, key: string, n: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    pipeline(Readable.from(ndjsonChunks(n)), req).catch(reject);
  });
}

async function drive(): Promise<void> {
  const base = loadConfig();
  const dbName = `fairlabel_bench_import_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const databaseUrl = withDatabase(base.DATABASE_URL, dbName);
  const pool = createPool(databaseUrl, 4);
  const db = createDb(pool);
  let server: ChildProcess | undefined;
  try {
    await migrateToLatest(db);
    const org = await db.insertInto('organizations').values({ name: 'bench client', kind: 'client' }).returning('id').executeTakeFirstOrThrow();
    const { key, prefix, hash } = generateApiKey();
    await db.insertInto('api_keys').values({ organization_id: org.id, role: 'client', prefix, key_hash: hash, name: 'bench' }).execute();
    const job = await db
      .insertInto('jobs')
      .values({ client_id: org.id, name: 'bench', task_type: 'classification', label_config: JSON.stringify({
          version: 2,
          objects: [{ name: 'item', type: 'text', value: '$text' }],
          controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['a', 'b'], multiple: false, required: true, per_region: false }],
        }), instructions: '', pay_per_annotation: 1, client_price_per_item: 2, currency: 'USD' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const bytes = [...ndjsonChunks(Math.min(ITEMS, 1000))].join('').length / Math.min(ITEMS, 1000);
    console.log(`import benchmark: ${ITEMS.toLocaleString('en')} NDJSON items, ~${Math.round(bytes)} bytes per line (${PAYLOAD_TEXT}-character text payload)`);

    // Baseline: COPY the same rows into an empty table shaped like tasks, with all its indexes.
    // The pg-copy-streams the import service depends on (the workspace root does not).
    const { from: copyFrom } = createRequire(new URL('../services/task-dispatch/package.json', import.meta.url))('pg-copy-streams') as {
      from: (text: string) => Writable & pg.Submittable;
    };
    const client = await pool.connect();
    await client.query('CREATE TABLE tasks_copy_baseline (LIKE tasks INCLUDING ALL)');
    const copyBackend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const copyCpuStart = cpuMs(copyBackend);
    const copyStart = performance.now();
    await pipeline(
      Readable.from(copyChunks(ITEMS, job.id)),
      client.query(copyFrom('COPY tasks_copy_baseline (job_id, external_id, payload, priority, prediction, prediction_confidence, prediction_model, gold, required_annotations) FROM STDIN')),
    );
    const copyMs = performance.now() - copyStart;
    const copyPgCpuMs = cpuMs(copyBackend) - copyCpuStart;
    client.release();
    await db.schema.dropTable('tasks_copy_baseline').execute();
    await pool.query('CHECKPOINT');

    // The API: a gateway process, NDJSON streamed over HTTP.
    // The gateway's Postgres backends are those of this database that this script did not open.
    const backendPids = async () =>
      (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).rows.map((r) => r.pid);
    const ownBackends = new Set(await backendPids());
    const gatewayBackendsCpu = async () =>
      (await backendPids()).filter((pid) => !ownBackends.has(pid)).reduce((sum, pid) => { try { return sum + cpuMs(pid); } catch { return sum; } }, 0);
    const started = await startServer(databaseUrl);
    server = started.child;
    const apiStart = performance.now();
    const gatewayCpuStart = cpuMs(server.pid!);
    const driverCpuStart = process.cpuUsage();
    const res = await postNdjson(started.port, `/v1/jobs/${job.id}/tasks`, key, ITEMS);
    const apiMs = performance.now() - apiStart;
    const gatewayCpuMs = cpuMs(server.pid!) - gatewayCpuStart;
    const driverCpu = process.cpuUsage(driverCpuStart);
    const apiPgCpuMs = await gatewayBackendsCpu();
    const rss = peakRssMb(server.pid!);
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${res.body.slice(0, 500)}`);
    const result = JSON.parse(res.body) as { created: number };
    if (result.created !== ITEMS) throw new Error(`import created ${result.created} of ${ITEMS}`);

    const ratio = apiMs / copyMs;
    const rate = (ms: number) => `${Math.round((ITEMS / ms) * 1000).toLocaleString('en')} rows/s`;
    console.log(`raw COPY into an empty copy of tasks : ${(copyMs / 1000).toFixed(2)} s  (${rate(copyMs)})`);
    console.log(`API import through the gateway       : ${(apiMs / 1000).toFixed(2)} s  (${rate(apiMs)})`);
    console.log(`ratio API / COPY                      : ${ratio.toFixed(2)}x   (bar: <= 2.00x)  ${ratio <= 2 ? 'PASS' : 'FAIL'}`);
    console.log(`diagnostics: Postgres backend CPU COPY ${(copyPgCpuMs / 1000).toFixed(2)} s, API ${(apiPgCpuMs / 1000).toFixed(2)} s (the gateway's backends, incl. its startup); gateway CPU during import ${(gatewayCpuMs / 1000).toFixed(2)} s, this driver's (sending the body) ${((driverCpu.user + driverCpu.system) / 1e6).toFixed(2)} s`);
    console.log(`gateway peak RSS (VmHWM)              : ${rss.toFixed(0)} MB   (bar: < 300 MB)  ${rss < 300 ? 'PASS' : 'FAIL'}`);
  } finally {
    if (server) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

if (ROLE === 'server') await serve();
else await drive();
