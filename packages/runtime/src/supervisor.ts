import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The process supervisor of `pnpm start`: it runs every process of the stack as a child, restarts one
 * that dies (with backoff, and says so) while the others keep running, and gives up — stops everything
 * and exits non-zero — only when one process keeps crashing: `maxCrashes` deaths within `windowMs`.
 * SIGINT/SIGTERM stop every child gracefully. In production an orchestrator (Kubernetes, Compose's
 * `restart: unless-stopped`) plays this part for each process on its own.
 */

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A one-off (the demo workload): its exit is reported, never restarted, and does not stop the stack. */
  once?: boolean;
  /** With `once`: its exit stops the whole stack, which then exits with 0 only if it exited with 0 (`pnpm start --demo`). */
  stopsStack?: boolean;
}

export interface RestartPolicy {
  /** Deaths of one process within `windowMs` that make the supervisor give up. */
  maxCrashes: number;
  windowMs: number;
  /** Delay before the first restart; doubles with each further death in the window. */
  backoffMs: number;
  maxBackoffMs: number;
}

/**
 * A child that exits with this code could not reach Postgres or Redis at start (EX_UNAVAILABLE): that
 * is an outage to wait out, not a crash of the process, so it is restarted with backoff but never
 * counts towards giving up.
 */
export const EXIT_DEPENDENCY_UNAVAILABLE = 69;
/** A bad configuration (EX_CONFIG) will not fix itself: give up at once. */
export const EXIT_BAD_CONFIG = 78;

export type RestartDecision = { action: 'restart'; delayMs: number; crashesInWindow: number } | { action: 'give-up'; crashesInWindow: number };

/**
 * What to do after a death at `now`, given the earlier deaths counted against the process (`crashes`,
 * which this prunes to the window and appends to). Pure, so the policy is tested with explicit times.
 */
export function decideRestart(crashes: number[], now: number, policy: RestartPolicy, counts = true): RestartDecision {
  while (crashes.length > 0 && crashes[0]! <= now - policy.windowMs) crashes.shift();
  if (counts) crashes.push(now);
  const n = crashes.length;
  if (counts && n >= policy.maxCrashes) return { action: 'give-up', crashesInWindow: n };
  const delayMs = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, n - 1));
  return { action: 'restart', delayMs, crashesInWindow: n };
}

interface Running {
  spec: ChildSpec;
  child: ChildProcess | null;
  crashes: number[];
  /** Consecutive "dependency unavailable" exits, for their own backoff. */
  unavailableStreak: number;
  restartTimer: NodeJS.Timeout | null;
  diedAt: number | null;
  starts: number;
}

export interface SupervisorOptions {
  policy: RestartPolicy;
  /** How long children get after the stop signal before they are killed. */
  graceMs: number;
  say: (message: string) => void;
  now?: () => number;
}

export class Supervisor {
  private readonly procs = new Map<string, Running>();
  private stopping = false;
  private exitCode = 0;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code once every child has stopped after stop() or giving up. */
  readonly done: Promise<number> = new Promise((resolve) => (this.resolveDone = resolve));
  private readonly now: () => number;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.now ?? Date.now;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Child pids by name (for operators and the fault suite). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.procs].map(([name, p]) => [name, p.child?.pid]));
  }

  start(spec: ChildSpec): void {
    if (this.stopping) return;
    const running: Running = { spec, child: null, crashes: [], unavailableStreak: 0, restartTimer: null, diedAt: null, starts: 0 };
    this.procs.set(spec.name, running);
    this.spawnChild(running);
  }

  private spawnChild(p: Running): void {
    p.restartTimer = null;
    p.starts++;
    // The IPC channel lets the child say when it is up (announceReady), and tells it when we are gone.
    const child = spawn(p.spec.command, p.spec.args, {
      cwd: p.spec.cwd,
      env: p.spec.env ?? process.env,
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
    p.child = child;
    const restarted = p.starts > 1;
    this.opts.say(`${p.spec.name} ${restarted ? 'restarted' : 'started'} (pid ${child.pid})`);
    child.on('message', (msg: unknown) => {
      if ((msg as { type?: string } | null)?.type !== 'ready') return;
      p.unavailableStreak = 0;
      if (p.diedAt !== null) {
        this.opts.say(`${p.spec.name} is running again (pid ${child.pid}), ${((this.now() - p.diedAt) / 1000).toFixed(1)} s after it died`);
        p.diedAt = null;
      } else {
        this.opts.say(`${p.spec.name} is running (pid ${child.pid})`);
      }
    });
    child.on('error', (err) => this.opts.say(`${p.spec.name}: ${err.message}`));
    child.on('exit', (code, signal) => this.onExit(p, child, code, signal));
  }

  private onExit(p: Running, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (p.child !== child) return;
    p.child = null;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (this.stopping) {
      this.finishIfAllStopped();
      return;
    }
    if (p.spec.once) {
      this.procs.delete(p.spec.name);
      this.opts.say(code === 0 ? `${p.spec.name} finished` : `${p.spec.name} failed (${how})`);
      if (code !== 0) this.exitCode = 1;
      if (p.spec.stopsStack) void this.stop('SIGTERM', { failed: code !== 0 });
      return;
    }
    const now = this.now();
    p.diedAt ??= now;
    if (code === EXIT_BAD_CONFIG) {
      this.opts.say(`${p.spec.name} exited (${how}): its configuration is invalid; stopping the stack`);
      this.giveUp();
      return;
    }
    const unavailable = code === EXIT_DEPENDENCY_UNAVAILABLE;
    const decision = decideRestart(p.crashes, now, this.opts.policy, !unavailable);
    if (decision.action === 'give-up') {
      this.opts.say(
        `${p.spec.name} exited unexpectedly (${how}): ${decision.crashesInWindow} crashes within ${this.opts.policy.windowMs / 1000} s; giving up and stopping the stack`,
      );
      this.giveUp();
      return;
    }
    let delayMs = decision.delayMs;
    if (unavailable) {
      p.unavailableStreak++;
      delayMs = Math.min(this.opts.policy.maxBackoffMs, Math.max(this.opts.policy.backoffMs, 250) * 2 ** Math.min(10, p.unavailableStreak - 1));
    }
    this.opts.say(
      unavailable
        ? `${p.spec.name} could not reach Postgres or Redis (${how}); retrying in ${(delayMs / 1000).toFixed(1)} s`
        : `${p.spec.name} exited unexpectedly (${how}); restarting in ${(delayMs / 1000).toFixed(1)} s (crash ${decision.crashesInWindow} of ${this.opts.policy.maxCrashes} allowed within ${this.opts.policy.windowMs / 1000} s)`,
    );
    p.restartTimer = setTimeout(() => this.spawnChild(p), delayMs);
  }

  private giveUp(): void {
    void this.stop('SIGTERM', { failed: true });
  }

  /**
   * Stops every child with `signal` (they finish in-flight work), killing what is left after the grace
   * period. `failed`: the supervisor exits non-zero (it gave up, or the stack never became ready).
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', opts: { failed?: boolean } = {}): Promise<number> {
    if (opts.failed) this.exitCode = 1;
    if (this.stopping) return this.done;
    this.stopping = true;
    for (const p of this.procs.values()) {
      if (p.restartTimer) clearTimeout(p.restartTimer);
      p.restartTimer = null;
    }
    const alive = [...this.procs.values()].filter((p) => p.child);
    if (alive.length) this.opts.say(`stopping ${alive.map((p) => p.spec.name).join(', ')}`);
    for (const p of alive) p.child!.kill(signal);
    // Each child has its own grace period; this is the backstop.
    setTimeout(() => {
      for (const p of this.procs.values()) p.child?.kill('SIGKILL');
      this.exitCode = 1;
    }, this.opts.graceMs + 5000).unref();
    this.finishIfAllStopped();
    return this.done;
  }

  private finishIfAllStopped(): void {
    if ([...this.procs.values()].some((p) => p.child)) return;
    this.opts.say('all processes stopped');
    this.resolveDone(this.exitCode);
  }
}
