// `pnpm start`: checks Postgres and Redis, migrates, then runs every process of the stack (gateway,
// outbox relay, each service) as children under this supervisor, which forwards SIGINT/SIGTERM and
// stops them all when one dies. `pnpm start --demo` also runs the demonstration workload once the
// gateway is ready. In production each of these processes runs as its own deployment instead.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase, migrateToLatest } from '@fairlabel/db';
import { checkInfrastructure } from '@fairlabel/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const processes: { name: string; entry: string }[] = [
  { name: 'gateway', entry: 'services/gateway/src/main.ts' },
  { name: 'outbox-relay', entry: 'packages/queues/src/relay.main.ts' },
  { name: 'task-dispatch', entry: 'services/task-dispatch/src/main.ts' },
  { name: 'worker-assignment', entry: 'services/worker-assignment/src/main.ts' },
  { name: 'qa-sampling', entry: 'services/qa-sampling/src/main.ts' },
  { name: 'settlement', entry: 'services/settlement/src/main.ts' },
];

const config = loadConfigOrExit();
const demo = process.argv.includes('--demo');
const say = (msg: string) => console.error(`[start] ${msg}`);

const problems = await checkInfrastructure(config);
if (problems.length) {
  for (const p of problems) say(p);
  process.exit(69);
}
if (await ensureDatabase(config.DATABASE_URL)) say(`created database ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
{
  const db = createDb(createPool(config.DATABASE_URL, 2));
  try {
    const ran = await migrateToLatest(db);
    say(ran.length ? `migrated: ${ran.join(', ')}` : 'schema is up to date');
  } finally {
    await db.destroy();
  }
}

const children = new Map<string, ChildProcess>();
let stopping = false;
let exitCode = 0;

function launch(name: string, entry: string, args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry), ...args], { cwd: root, stdio: 'inherit', env: process.env });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (name === 'demo') {
      say(code === 0 ? 'demo workload finished; the stack keeps running (Ctrl-C stops it)' : `demo workload failed (exit ${code ?? signal})`);
      if (code !== 0) exitCode = 1;
      return;
    }
    if (!stopping) {
      say(`${name} exited unexpectedly (${code ?? signal}); stopping the stack`);
      exitCode = 1;
      stopAll('SIGTERM');
    } else if (children.size === 0) {
      say('all processes stopped');
      process.exit(exitCode);
    }
  });
  return child;
}

function stopAll(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  say(`stopping ${[...children.keys()].join(', ')}`);
  for (const child of children.values()) child.kill(signal);
  if (children.size === 0) process.exit(exitCode);
  // Each child has its own grace period; this is the backstop.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS + 5000).unref();
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

for (const p of processes) launch(p.name, p.entry);
const base = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;

// Wait for the gateway to be ready, then say where things are.
const deadline = Date.now() + 60_000;
for (;;) {
  if (stopping) break;
  try {
    const res = await fetch(`${base}/readyz`);
    if (res.ok) break;
  } catch {
    /* not listening yet */
  }
  if (Date.now() > deadline) {
    say('the gateway did not become ready within 60 s');
    exitCode = 1;
    stopAll('SIGTERM');
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
if (!stopping) {
  say(`fairlabel is up: API ${base}/v1, docs ${base}/docs, metrics ${base}/metrics`);
  if (demo) launch('demo', 'scripts/demo.ts', [base]);
}
