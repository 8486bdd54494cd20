import { randomBytes } from 'node:crypto';
import { createDb, createPool, type Db } from '@fairlabel/db';
import { checkInvariants, type InvariantResult } from './invariants.js';
import { PrivatePostgres, PrivateRedis, freePort } from './servers.js';
import { Stack } from './stack.js';
import { Api, Outcomes, Probe, Receiver, Workers, issueAdminKey, seed, seededRng, type Rng } from './workload.js';

// The fault suite: the real stack against private servers, simulated workers, and a driver that
// SIGKILLs every process at random moments, flushes Redis and restarts Postgres mid-run; then the
// invariants. `pnpm test:chaos` runs the long version; chaos/chaos.test.ts a short one in `pnpm test`.

export const STACK_PROCESSES = ['gateway', 'outbox-relay', 'task-dispatch', 'worker-assignment', 'qa-sampling', 'settlement'] as const;

export interface ChaosOptions {
  seed: number;
  /**
   * `overlapping`: every fault at a random moment of the first 70% of `faultSeconds`, whether or not
   * the last one has been repaired (faults pile up). `sequential`: each fault a random 0.5–3 s after
   * the previous one was repaired, so each one's unavailability and recovery are its own; the workers
   * then run until every fault is repaired and at least `faultSeconds` have passed.
   */
  mode: 'overlapping' | 'sequential';
  faultSeconds: number;
  workers: number;
  tasks: number;
  /** Kills of each process (at random moments). */
  killsPerProcess: number;
  /** Which processes are killed (default: all of them). */
  processes?: readonly string[];
  /** How long the private Postgres stays down when restarted. */
  postgresDownMs: number;
  /** How long the stack gets, after the workers stop, to settle before the invariants are checked. */
  settleSeconds: number;
  echo?: boolean;
  log?: (line: string) => void;
}

export interface FaultRecord {
  at: number;
  kind: 'kill' | 'flush-redis' | 'restart-postgres';
  target: string;
  /** Seconds the probe (an authenticated read through the gateway) got no answer after this fault. */
  apiUnavailableSeconds: number;
  /** Seconds until the fault was repaired: a killed process running again, the reconciler's repair, the API answering after Postgres is back. */
  recoverySeconds: number | null;
  detail?: string;
}

export interface ChaosReport {
  options: ChaosOptions;
  startedAt: Date;
  faults: FaultRecord[];
  /** Processes that told the supervisor they were running after the first start. */
  processesUp: string[];
  kills: number;
  killsSurvived: number;
  /** The supervisor said every process stopped, and the gateway's port refused connections after. */
  stoppedCleanly: boolean;
  supervisorGaveUp: boolean;
  stackExitCode: number | null;
  workload: { claims: number; submits: number; abandoned: number; released: number; refusedSubmits: Record<string, number> };
  responses: Record<string, number>;
  unexpected5xx: string[];
  unhandledRejections: number;
  uncaughtExceptions: number;
  /** The first few unhandled errors: process and message. */
  unhandledExamples: string[];
  /** Seconds spent in each phase of the run. */
  phases: Record<string, number>;
  invariants: InvariantResult[];
  settledInSeconds: number | null;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PlannedFault {
  at: number;
  kind: FaultRecord['kind'];
  target: string;
}

/** Every process killed `killsPerProcess` times, one Redis flush, one Postgres restart, in random order at random moments. */
export function planFaults(opts: ChaosOptions, rng: Rng): PlannedFault[] {
  const faults: Omit<PlannedFault, 'at'>[] = [];
  for (let k = 0; k < opts.killsPerProcess; k++) for (const p of opts.processes ?? STACK_PROCESSES) faults.push({ kind: 'kill', target: p });
  faults.push({ kind: 'flush-redis', target: 'redis' }, { kind: 'restart-postgres', target: 'postgres' });
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [faults[i], faults[j]] = [faults[j]!, faults[i]!];
  }
  // Spread over the first 70% of the run (the rest lets the last ones recover while the workers go
  // on), each at a random moment inside its own slot, so faults overlap only partly.
  const slot = (opts.faultSeconds * 700) / faults.length;
  return faults.map((f, i) => ({ ...f, at: Math.round(slot * i + slot * (0.2 + 0.6 * rng())) }));
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.error(`[chaos] ${line}`));
  const rng = seededRng(opts.seed);
  const startedAt = new Date();
  const phases: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    phases[name] = (Date.now() - phaseStart) / 1000;
    phaseStart = Date.now();
  };
  const postgres = await PrivatePostgres.create();
  const redis = await PrivateRedis.create();
  const receiver = new Receiver();
  let stack: Stack | null = null;
  let db: Db | null = null;
  try {
    await Promise.all([postgres.start(), redis.start(), receiver.start()]);
    log(`private Postgres on :${postgres.port}, private Redis on :${redis.port}`);
    phase('private servers');
    const port = await freePort();
    const prefix = 'chaos';
    stack = new Stack(
      {
        ...process.env,
        DATABASE_URL: postgres.url(),
        REDIS_URL: redis.url,
        REDIS_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        // The stack's lines are parsed as JSON (repairs, unhandled errors), whatever a terminal would get.
        LOG_FORMAT: 'json',
        RATE_LIMIT_MAX: '1000000',
        RATE_LIMIT_IP_MAX: '1000000',
        // A job of a killed consumer is retried within ~10 s instead of ~60 s, so the run can settle.
        QUEUE_STALLED_MS: '5000',
        RECONCILE_INTERVAL_MS: '15000',
        RESTART_BACKOFF_MS: '250',
        // The receiver runs on loopback; deliveries there must be allowed (SSRF protection).
        WEBHOOK_ALLOW_PRIVATE_CIDRS: '127.0.0.0/8',
        // A key of the run's own, so the stack does not generate one into the repository.
        SECRETS_ENCRYPTION_KEY: process.env.SECRETS_ENCRYPTION_KEY ?? randomBytes(32).toString('base64'),
        METRICS_PORT: '0',
      },
      opts.echo,
    );
    await stack.start();
    // Every process says when it is up (the gateway before `fairlabel is up`, the others soon after).
    await Promise.all(STACK_PROCESSES.map((name) => stack!.next((e) => e.kind === 'running' && e.name === name, 60_000, true)));
    const processesUp = STACK_PROCESSES.filter((name) => stack!.events.some((e) => e.kind === 'running' && e.name === name));
    log(`stack up on :${port}`);
    phase('stack start');
    db = createDb(createPool(postgres.url(), 4));

    const outcomes = new Outcomes();
    const api = new Api(`http://127.0.0.1:${port}`, outcomes);
    const seeded = await seed(api, await issueAdminKey(postgres.url()), receiver.url, { workers: opts.workers, tasks: opts.tasks });
    log(`seeded: ${opts.workers} workers, job ${seeded.jobId} with ${opts.tasks} tasks × overlap 3`);
    const probe = new Probe(new Api(api.base, new Outcomes()), seeded.clientKey, `/v1/jobs/${seeded.jobId}`);
    const workers = new Workers(api, seeded, rng);
    phase('seeding');
    probe.start();
    workers.start();

    const plan = planFaults(opts, rng);
    const t0 = Date.now();
    const faults: (FaultRecord & { startedMs: number; pid?: number | null; backAt?: Promise<number | null> })[] = [];
    for (const f of plan) {
      const previous = faults.at(-1);
      if (opts.mode === 'sequential') {
        if (previous) await previous.backAt;
        await sleep(500 + Math.floor(rng() * 2500));
      } else {
        const wait = t0 + f.at - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const startedMs = Date.now();
      const record: (typeof faults)[number] = { at: (startedMs - t0) / 1000, kind: f.kind, target: f.target, apiUnavailableSeconds: 0, recoverySeconds: null, startedMs };
      faults.push(record);
      if (f.kind === 'kill') {
        // A process still coming back from an earlier fault is killed once it runs again.
        let pid = stack.kill(f.target);
        for (let i = 0; i < 100 && pid === null; i++) {
          await sleep(100);
          pid = stack.kill(f.target);
        }
        record.pid = pid;
        log(`t=${record.at.toFixed(1)}s SIGKILL ${f.target} (pid ${pid ?? 'not running'})`);
        const s = stack;
        record.backAt = s
          .next((e) => e.kind === 'running-again' && e.name === f.target && e.at >= startedMs, 120_000, true)
          .then((e) => e.at)
          .catch(() => null);
      } else if (f.kind === 'flush-redis') {
        await redis.flushAll();
        log(`t=${record.at.toFixed(1)}s FLUSHALL on the private Redis`);
        const s = stack;
        record.backAt = s
          .next((e) => e.kind === 'repaired' && e.at >= startedMs, 60_000, true)
          .then((e) => {
            const lost = Object.entries(e.detail as Record<string, number>)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ');
            record.detail = `re-published ${lost || 'nothing (Redis was missing nothing)'}`;
            return e.at;
          })
          .catch(() => null);
      } else {
        await postgres.stop();
        log(`t=${record.at.toFixed(1)}s Postgres stopped`);
        await sleep(opts.postgresDownMs);
        await postgres.start();
        log(`t=${((Date.now() - t0) / 1000).toFixed(1)}s Postgres started again`);
        const upAt = Date.now();
        record.detail = `down ${(opts.postgresDownMs / 1000).toFixed(1)} s`;
        record.backAt = (async () => {
          for (let i = 0; i < 600; i++) {
            const ok = probe.firstOkAfter(upAt);
            if (ok) return ok;
            await sleep(100);
          }
          return null;
        })();
      }
    }
    const faultsEnd = t0 + opts.faultSeconds * 1000;
    if (Date.now() < faultsEnd) await sleep(faultsEnd - Date.now());
    for (const f of faults) {
      const back = await f.backAt;
      f.recoverySeconds = back ? Math.max(0, (back - f.startedMs) / 1000) : null;
    }
    await workers.stop();
    log(`workers stopped: ${workers.submitted.length} submits`);
    phase('faults and recovery');

    // Settle: the stack finishes what is in flight (stalled jobs retried, deliveries made, the
    // reconciler's next pass). The invariants are checked once they hold or when time is up.
    const settleStart = Date.now();
    const ctx = { db, redisUrl: redis.url, prefix, submitted: workers.submitted, received: receiver.received };
    let results = await checkInvariants(ctx);
    while (results.some((r) => r.ok === false) && Date.now() - settleStart < opts.settleSeconds * 1000) {
      await sleep(1000);
      results = await checkInvariants(ctx);
    }
    const settledInSeconds = results.some((r) => r.ok === false) ? null : (Date.now() - settleStart) / 1000;
    phase('settle and invariants');
    probe.stop();
    const end = Date.now();
    // Each outage the probe saw is the doing of the latest fault before it began (a gateway killed
    // just before another fault still accounts for the whole time it was away).
    for (const o of probe.outages(end)) {
      const cause = faults.filter((f) => f.startedMs <= o.start).at(-1);
      if (cause) cause.apiUnavailableSeconds += (o.end - o.start) / 1000;
    }

    const supervisorGaveUp = stack.events.some((e) => e.kind === 'gave-up');
    const stackExitCode = await stack.stop();
    const gatewayClosed = await fetch(`${api.base}/healthz`).then(
      () => false,
      () => true,
    );
    const stoppedCleanly = gatewayClosed && stack.events.some((e) => e.kind === 'all-stopped');
    phase('graceful stop');
    const kills = faults.filter((f) => f.kind === 'kill' && f.pid);
    const report: ChaosReport = {
      options: opts,
      startedAt,
      faults: faults.map(({ startedMs: _s, pid: _p, backAt: _b, ...f }) => f),
      processesUp,
      stoppedCleanly,
      kills: kills.length,
      killsSurvived: kills.filter((f) => f.recoverySeconds !== null).length,
      supervisorGaveUp,
      stackExitCode,
      workload: {
        claims: workers.claims,
        submits: workers.submitted.length,
        abandoned: workers.abandoned,
        released: workers.released,
        refusedSubmits: Object.fromEntries(workers.refusedSubmits),
      },
      responses: Object.fromEntries([...outcomes.byStatus].sort(([a], [b]) => a - b).map(([s, n]) => [s === 0 ? 'no answer' : String(s), n])),
      unexpected5xx: outcomes.fiveHundreds,
      unhandledRejections: stack.events.filter((e) => e.kind === 'unhandled-rejection').length,
      uncaughtExceptions: stack.events.filter((e) => e.kind === 'uncaught-exception').length,
      unhandledExamples: stack.events
        .filter((e) => e.kind === 'unhandled-rejection' || e.kind === 'uncaught-exception')
        .slice(0, 3)
        .map((e) => {
          const entry = JSON.parse(String(e.detail)) as { err?: { message?: string; stack?: string } };
          return `${e.name}: ${entry.err?.message ?? '?'} ${(entry.err?.stack ?? '').split('\n').slice(1, 3).map((l) => l.trim()).join(' ')}`;
        }),
      phases,
      invariants: results,
      settledInSeconds,
      ok: false,
    };
    report.ok =
      results.every((r) => r.ok !== false) &&
      report.killsSurvived === report.kills &&
      !supervisorGaveUp &&
      stackExitCode === 0 &&
      stoppedCleanly &&
      processesUp.length === STACK_PROCESSES.length &&
      report.unhandledRejections === 0 &&
      report.uncaughtExceptions === 0 &&
      report.unexpected5xx.length === 0;
    return report;
  } catch (err) {
    if (stack) (err as Error).message += `\n--- stack output ---\n${stack.recentOutput()}`;
    throw err;
  } finally {
    await db?.destroy().catch(() => undefined);
    stack?.destroy();
    await receiver.stop();
    await redis.destroy();
    await postgres.destroy();
  }
}

export function formatReport(r: ChaosReport): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `fairlabel fault suite — ${r.startedAt.toISOString()} — seed ${o.seed}: ${o.mode} faults${o.mode === 'overlapping' ? ` within ${o.faultSeconds} s` : ''}, ${o.workers} workers, ${o.tasks} tasks × overlap 3, Postgres down ${o.postgresDownMs / 1000} s`,
  );
  lines.push('');
  lines.push('faults (t = seconds into the run; API unavailable = an authenticated read got no 200; back = the fault repaired)');
  for (const f of r.faults) {
    const what = f.kind === 'kill' ? `SIGKILL ${f.target}` : f.kind === 'flush-redis' ? 'FLUSHALL Redis' : 'restart Postgres';
    const back = f.recoverySeconds === null ? 'not repaired' : `back after ${f.recoverySeconds.toFixed(1)} s`;
    lines.push(`  t=${f.at.toFixed(1).padStart(5)}  ${what.padEnd(28)} API unavailable ${f.apiUnavailableSeconds.toFixed(1).padStart(4)} s   ${back}${f.detail ? ` (${f.detail})` : ''}`);
  }
  lines.push('');
  lines.push(
    `kills survived: ${r.killsSurvived} of ${r.kills}; supervisor gave up: ${r.supervisorGaveUp ? 'yes' : 'no'}; SIGTERM stopped every process: ${r.stoppedCleanly ? 'yes' : 'no'} (exit code ${r.stackExitCode})`,
  );
  const w = r.workload;
  lines.push(`workload: ${w.claims} claims, ${w.submits} submits answered 2xx, ${w.abandoned} leases abandoned, ${w.released} released; submits refused: ${JSON.stringify(w.refusedSubmits)}`);
  lines.push(`answers to the workers: ${Object.entries(r.responses).map(([s, n]) => `${s} × ${n}`).join(', ')}`);
  lines.push(`unexpected 5xx (not 503): ${r.unexpected5xx.length}${r.unexpected5xx.length ? ` e.g. ${r.unexpected5xx[0]}` : ''}`);
  lines.push(`unhandled rejections logged: ${r.unhandledRejections}; uncaught exceptions: ${r.uncaughtExceptions}`);
  for (const e of r.unhandledExamples) lines.push(`  ${e}`);
  lines.push(`phases: ${Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  lines.push('');
  lines.push(`invariants (${r.settledInSeconds === null ? 'checked after the settle time ran out' : `held ${r.settledInSeconds.toFixed(1)} s after the workers stopped`})`);
  for (const i of r.invariants) {
    const mark = i.ok === null ? '-' : i.ok ? '✓' : '✗';
    lines.push(`  ${mark} ${i.name.padEnd(52)} ${String(i.violations).padStart(4)} violations of ${i.checked} checked${i.note ? ` — ${i.note}` : ''}`);
    for (const e of i.examples ?? []) lines.push(`        ${e}`);
  }
  lines.push('');
  lines.push(r.ok ? 'RESULT: every invariant held' : 'RESULT: FAILED');
  return lines.join('\n');
}
