import { describe, expect, it } from 'vitest';
import { formatReport, runChaos, STACK_PROCESSES } from './driver.js';

// The short fault suite of `pnpm test` (the long one is `pnpm test:chaos`): `pnpm start` with every
// process, against a private Postgres and Redis, while simulated workers claim and submit; the four
// processes that do the work are SIGKILLed, Redis is flushed and Postgres restarted; then every
// invariant must hold and SIGTERM must stop everything. It is also the test of `pnpm start` itself.
describe('pnpm start under faults (short fault suite)', () => {
  it('brings every process up, survives kills, a Redis flush and a Postgres restart with every invariant intact, and stops on SIGTERM', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 1e9));
    const report = await runChaos({
      seed,
      // Faults pile up: each run of the suite tries a new random interleaving.
      mode: 'overlapping',
      faultSeconds: 6,
      workers: 4,
      tasks: 100,
      killsPerProcess: 1,
      processes: ['gateway', 'outbox-relay', 'task-dispatch', 'worker-assignment'],
      postgresDownMs: 1000,
      settleSeconds: 45,
      log: () => undefined,
    });
    const text = `${formatReport(report)}\n(repeat with CHAOS_SEED=${seed})`;
    expect(report.processesUp, text).toEqual([...STACK_PROCESSES]);
    expect(report.kills, text).toBe(4);
    expect(report.killsSurvived, text).toBe(4);
    expect(report.supervisorGaveUp, text).toBe(false);
    // The flush was noticed and repaired. Which process put the lease-expiry scheduler back depends on the
    // interleaving: the reconciler, or worker-assignment ensuring it as it restarts after a kill that
    // followed the flush (seed 854168902); the lease invariant below checks that expiry still works.
    expect(report.faults.find((f) => f.kind === 'flush-redis')?.detail, text).toMatch(/^re-published /);
    expect(report.workload.submits, text).toBeGreaterThan(0);
    expect(report.unexpected5xx, text).toEqual([]);
    expect(report.unhandledRejections, text).toBe(0);
    expect(report.uncaughtExceptions, text).toBe(0);
    for (const inv of report.invariants) expect(inv.ok, `${inv.name}\n${text}`).not.toBe(false);
    expect(report.stoppedCleanly, text).toBe(true);
    expect(report.stackExitCode, text).toBe(0);
    expect(report.ok, text).toBe(true);
  }, 240_000);
});
