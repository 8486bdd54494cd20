import { describe, expect, it } from 'vitest';
import { decideRestart, EXIT_DEPENDENCY_UNAVAILABLE, Supervisor, type ChildSpec, type RestartPolicy } from '../src/supervisor.js';

const policy: RestartPolicy = { maxCrashes: 3, windowMs: 60_000, backoffMs: 500, maxBackoffMs: 30_000 };

describe('restart policy', () => {
  it('backs off exponentially and gives up at the max-th crash within the window', () => {
    const crashes: number[] = [];
    expect(decideRestart(crashes, 1_000, policy)).toEqual({ action: 'restart', delayMs: 500, crashesInWindow: 1 });
    expect(decideRestart(crashes, 2_000, policy)).toEqual({ action: 'restart', delayMs: 1000, crashesInWindow: 2 });
    expect(decideRestart(crashes, 3_000, policy)).toEqual({ action: 'give-up', crashesInWindow: 3 });
  });

  it('forgets crashes older than the window, so a process that crashes now and then is restarted forever', () => {
    const crashes: number[] = [];
    for (let i = 0; i < 20; i++) expect(decideRestart(crashes, i * 31_000, policy).action).toBe('restart');
    expect(crashes.length).toBeLessThanOrEqual(2);
  });

  it('does not count exits that are not crashes (a dependency unavailable at start)', () => {
    const crashes: number[] = [];
    for (let i = 0; i < 10; i++) expect(decideRestart(crashes, 1000 + i, policy, false).action).toBe('restart');
    expect(crashes).toEqual([]);
  });
});

/** A child that says it is ready (as every fairlabel process does) and then runs until told to stop. */
const longRunning = `
  process.send?.({ type: 'ready' });
  process.on('SIGTERM', () => process.exit(0));
  setInterval(() => {}, 1000);
`;

function node(name: string, code: string, extra: Partial<ChildSpec> = {}): ChildSpec {
  return { name, command: process.execPath, args: ['-e', code], ...extra };
}

function harness(p: RestartPolicy = { maxCrashes: 3, windowMs: 60_000, backoffMs: 20, maxBackoffMs: 1000 }) {
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const supervisor = new Supervisor({
    policy: p,
    graceMs: 5000,
    say: (m) => {
      lines.push(m);
      for (const w of [...waiters]) if (w.re.test(m)) w.resolve();
    },
  });
  const saw = (re: RegExp) =>
    lines.some((l) => re.test(l)) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ re, resolve }));
  return { supervisor, lines, saw };
}

describe('the supervisor', () => {
  it('restarts a killed child with backoff and says so, while the others keep running', async () => {
    const { supervisor, lines, saw } = harness();
    supervisor.start(node('a', longRunning));
    supervisor.start(node('b', longRunning));
    await saw(/^a is running \(pid \d+\)$/);
    await saw(/^b is running \(pid \d+\)$/);
    const before = supervisor.pids();
    process.kill(before.a!, 'SIGKILL');
    await saw(/^a exited unexpectedly \(signal SIGKILL\); restarting in 0\.0 s \(crash 1 of 3 allowed within 60 s\)/);
    await saw(/^a is running again \(pid \d+\), [\d.]+ s after it died/);
    const after = supervisor.pids();
    expect(after.a).not.toBe(before.a);
    expect(after.b).toBe(before.b);
    // Ctrl-C / SIGTERM still stops everything gracefully, and the supervisor exits 0.
    expect(await supervisor.stop('SIGTERM')).toBe(0);
    expect(lines.at(-1)).toBe('all processes stopped');
    expect(lines.filter((l) => l.startsWith('b '))).toEqual([`b started (pid ${before.b})`, `b is running (pid ${before.b})`]);
  });

  it('gives up, stopping every process, when one keeps crashing within the window', async () => {
    const { supervisor, lines, saw } = harness();
    supervisor.start(node('steady', longRunning));
    await saw(/^steady started/);
    supervisor.start(node('crashy', 'process.exit(3)'));
    expect(await supervisor.done).toBe(1);
    expect(lines.filter((l) => /^crashy exited unexpectedly \(code 3\); restarting/.test(l))).toHaveLength(2);
    expect(lines).toContain('crashy exited unexpectedly (code 3): 3 crashes within 60 s; giving up and stopping the stack');
    expect(lines).toContain('stopping steady');
    expect(lines.at(-1)).toBe('all processes stopped');
  });

  it('waits out a dependency that is unavailable at start instead of counting it as a crash', async () => {
    const { supervisor, lines, saw } = harness({ maxCrashes: 2, windowMs: 60_000, backoffMs: 1, maxBackoffMs: 20 });
    // Exits "unavailable" three times (more than maxCrashes), then comes up.
    const marker = `/tmp/fairlabel-supervisor-test-${process.pid}-${Date.now()}`;
    const code = `
      const fs = require('node:fs');
      const n = Number(fs.existsSync('${marker}') ? fs.readFileSync('${marker}', 'utf8') : 0);
      fs.writeFileSync('${marker}', String(n + 1));
      if (n < 3) process.exit(${EXIT_DEPENDENCY_UNAVAILABLE});
      fs.rmSync('${marker}');
      ${longRunning}
    `;
    supervisor.start(node('patient', code));
    await saw(/^patient is running again/);
    expect(lines.filter((l) => /could not reach Postgres or Redis \(code 69\); retrying/.test(l))).toHaveLength(3);
    expect(await supervisor.stop()).toBe(0);
  });

  it('reports a one-off child finishing without restarting it or stopping the stack', async () => {
    const { supervisor, saw } = harness();
    supervisor.start(node('stack', longRunning));
    supervisor.start(node('demo', 'process.exit(0)', { once: true }));
    await saw(/^demo finished$/);
    expect(Object.keys(supervisor.pids())).toEqual(['stack']);
    expect(await supervisor.stop()).toBe(0);
  });

  it('stops the stack when a one-off that stops it finishes, with its outcome as the exit code', async () => {
    for (const [code, exit] of [
      [0, 0],
      [3, 1],
    ] as const) {
      const { supervisor, saw } = harness();
      supervisor.start(node('stack', longRunning));
      await saw(/^stack is running/);
      supervisor.start(node('demo', `process.exit(${code})`, { once: true, stopsStack: true }));
      expect(await supervisor.done).toBe(exit);
      expect(supervisor.pids()).toEqual({ stack: undefined });
    }
  });
});
