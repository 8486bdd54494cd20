// A closed-loop HTTP load driver: N concurrent loops, each with its own kept-alive connection (as
// N independent workers would have), running one "cycle" after another. Counts only cycles that
// finish inside the measured window, after a warm-up that is not counted.
import { Pool } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, type LatencySummary } from './stats.js';

export interface CycleContext {
  pool: Pool;
  /** Index of the loop (the simulated worker). */
  loop: number;
  /** When this cycle was due to start (performance.now()): the arrival in the open loop, the start in the closed one. */
  dueAt: number;
  /** Records the latency of the request that the bar is about (the claim). */
  recordClaim(ms: number): void;
  /** Where a claim's time went: waiting in the driver before it was sent, held by the server (its Server-Timing), the rest. */
  recordClaimSplit?(split: ClaimSplit): void;
  recordOther(ms: number): void;
}

/** One cycle; 'idle' when there was nothing to do (counted, not a cycle), or an error code to count. */
export type Cycle = (ctx: CycleContext) => Promise<'ok' | 'idle' | string>;

export interface ClaimSplit {
  totalMs: number;
  /** From when the cycle was due to when the driver sent the request. */
  beforeSendMs: number;
  /** What the server says it held the request (Server-Timing `app`), NaN when it did not say. */
  serverMs: number;
}

export interface LoadResult {
  cycles: number;
  seconds: number;
  cyclesPerSecond: number;
  claim: LatencySummary | null;
  other: LatencySummary | null;
  idle: number;
  errors: Record<string, number>;
}

export async function runClosedLoop(opts: {
  origins: string[];
  loops: number;
  warmupSeconds: number;
  seconds: number;
  cycle: Cycle;
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}): Promise<LoadResult> {
  const perOrigin = Math.ceil(opts.loops / opts.origins.length);
  const pools = opts.origins.map((origin) => new Pool(origin, { connections: perOrigin, pipelining: 1, keepAliveTimeout: 60_000 }));
  let measuring = false;
  let stopping = false;
  let cycles = 0;
  let idle = 0;
  const claimMs: number[] = [];
  const otherMs: number[] = [];
  const errors: Record<string, number> = {};

  const loop = async (i: number) => {
    let cycleClaims: number[] = [];
    let cycleOthers: number[] = [];
    const ctx: CycleContext = {
      pool: pools[i % pools.length]!,
      loop: i,
      dueAt: 0,
      recordClaim: (ms) => cycleClaims.push(ms),
      recordOther: (ms) => cycleOthers.push(ms),
    };
    while (!stopping) {
      cycleClaims = [];
      cycleOthers = [];
      ctx.dueAt = performance.now();
      const startedMeasured = measuring;
      let outcome: string;
      try {
        outcome = await opts.cycle(ctx);
      } catch (err) {
        outcome = (err as { code?: string }).code ?? (err as Error).name ?? 'exception';
      }
      // A cycle counts when it started and finished inside the window.
      const counted = startedMeasured && measuring;
      if (outcome === 'ok') {
        if (counted) {
          cycles++;
          claimMs.push(...cycleClaims);
          otherMs.push(...cycleOthers);
        }
      } else if (outcome === 'idle') {
        if (counted) idle++;
        await sleep(50);
      } else {
        if (counted) errors[outcome] = (errors[outcome] ?? 0) + 1;
        await sleep(10);
      }
    }
  };

  const running = Array.from({ length: opts.loops }, (_, i) => loop(i));
  await sleep(opts.warmupSeconds * 1000);
  opts.onMeasureStart?.();
  const started = performance.now();
  measuring = true;
  await sleep(opts.seconds * 1000);
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  opts.onMeasureEnd?.();
  stopping = true;
  await Promise.all(running);
  await Promise.all(pools.map((p) => p.close()));
  return { cycles, seconds, cyclesPerSecond: cycles / seconds, claim: summarize(claimMs), other: summarize(otherMs), idle, errors };
}
