// `pnpm start`: checks Postgres and Redis, migrates, then runs every process of the stack (gateway,
// outbox relay, each service) as children under this supervisor, which restarts one that dies (with
// backoff; the others keep running), gives up only when one keeps crashing (RESTART_MAX_CRASHES within
// RESTART_WINDOW_MS), and stops them all gracefully on SIGINT/SIGTERM. `pnpm start --demo` also runs
// the demonstration (scripts/demo.ts) once the gateway is ready, then stops the stack and exits with the
// demo's outcome (`--stay` keeps the stack running after it; other flags, e.g. `--small`, go to the demo).
// In production each of these processes runs as its own deployment instead, restarted by the orchestrator.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase, migrateToLatest, newEncryptionKey } from '@fairlabel/db';
import { createLogger, installProcessGuards, resolveLogFormat } from '@fairlabel/observability';
import { bannerLines, checkInfrastructure, Supervisor } from '@fairlabel/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const processes: { name: string; entry: string }[] = [
  { name: 'gateway', entry: 'services/gateway/src/main.ts' },
  { name: 'outbox-relay', entry: 'packages/queues/src/relay.main.ts' },
  { name: 'task-dispatch', entry: 'services/task-dispatch/src/main.ts' },
  { name: 'worker-assignment', entry: 'services/worker-assignment/src/main.ts' },
  { name: 'qa-sampling', entry: 'services/qa-sampling/src/main.ts' },
  { name: 'settlement', entry: 'services/settlement/src/main.ts' },
];

// Webhook secrets are sealed with SECRETS_ENCRYPTION_KEY. A local stack without one gets a key of its
// own, kept in a git-ignored file so that a restart can still open what it sealed.
if (!process.env.SECRETS_ENCRYPTION_KEY) {
  const file = path.join(root, '.fairlabel', 'secrets-encryption-key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${newEncryptionKey()}\n`, { mode: 0o600, flag: 'wx' });
    console.error(`[start] generated SECRETS_ENCRYPTION_KEY into ${path.relative(root, file)} (keep it: webhook secrets are sealed with it)`);
  }
  process.env.SECRETS_ENCRYPTION_KEY = readFileSync(file, 'utf8').trim();
}

const demo = process.argv.includes('--demo');
const stay = process.argv.includes('--stay');
const demoArgs = process.argv.slice(2).filter((a) => a !== '--demo' && a !== '--stay');
if (demo) {
  // The processes' per-event logs would bury the demo's lines (loopback webhooks: see below).
  process.env.LOG_LEVEL ??= 'warn';
}
const config = loadConfigOrExit();
installProcessGuards({ logger: createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'start' }) });
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

const supervisor = new Supervisor({
  policy: {
    maxCrashes: config.RESTART_MAX_CRASHES,
    windowMs: config.RESTART_WINDOW_MS,
    backoffMs: config.RESTART_BACKOFF_MS,
    maxBackoffMs: 30_000,
  },
  graceMs: config.SHUTDOWN_GRACE_MS,
  say,
});
void supervisor.done.then((code) => process.exit(code));

// The demo's webhook receivers listen on loopback, which outbound webhooks may not reach by default
// (SSRF); a demo run allows loopback unless the operator set the allow-list.
if (demo && !process.env.WEBHOOK_ALLOW_PRIVATE_CIDRS) {
  process.env.WEBHOOK_ALLOW_PRIVATE_CIDRS = '127.0.0.0/8,::1/128';
  say('demo: webhooks may reach loopback (WEBHOOK_ALLOW_PRIVATE_CIDRS=127.0.0.0/8,::1/128)');
}

// Processes without an HTTP API serve /metrics on ports of their own when METRICS_PORT is set.
let metricsPort = config.METRICS_PORT;
function spec(name: string, entry: string, args: string[] = [], once = false) {
  const env = { ...process.env };
  if (config.METRICS_PORT > 0 && name !== 'gateway' && !once) env.METRICS_PORT = String(++metricsPort);
  return { name, command: process.execPath, args: ['--import', 'tsx', path.join(root, entry), ...args], cwd: root, env, once };
}

process.on('SIGINT', () => void supervisor.stop('SIGINT'));
process.on('SIGTERM', () => void supervisor.stop('SIGTERM'));

for (const p of processes) supervisor.start(spec(p.name, p.entry));
const base = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;

// Wait for the gateway to be ready, then say where things are.
const deadline = Date.now() + 60_000;
for (;;) {
  if (supervisor.isStopping) break;
  try {
    const res = await fetch(`${base}/readyz`);
    if (res.ok) break;
  } catch {
    /* not listening yet */
  }
  if (Date.now() > deadline) {
    say('the gateway did not become ready within 60 s');
    void supervisor.stop('SIGTERM', { failed: true });
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
if (!supervisor.isStopping) {
  // One banner with every URL (on stderr, with the supervisor's other lines; stdout stays the processes' logs).
  const [first, ...rest] = bannerLines({
    base,
    metricsPorts: config.METRICS_PORT > 0 ? processes.slice(1).map((_, i) => config.METRICS_PORT + i + 1) : [],
    adminKeys: await countAdminKeys().catch(() => 0),
    logFormat: resolveLogFormat(config.LOG_FORMAT),
    logLevel: config.LOG_LEVEL,
  });
  say(first!);
  console.error(rest.join('\n'));
  if (demo) supervisor.start({ ...spec('demo', 'scripts/demo.ts', [base, ...demoArgs], true), stopsStack: !stay });
}

/** Unrevoked admin keys: whether the banner tells how to get the first one or another one. */
async function countAdminKeys(): Promise<number> {
  const db = createDb(createPool(config.DATABASE_URL, 1));
  try {
    const row = await db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  } finally {
    await db.destroy();
  }
}
