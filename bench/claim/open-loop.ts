// An open-loop HTTP load driver: cycles start at a fixed offered rate, with exponential gaps between
// starts (a Poisson process), whatever the server's response time. A closed loop of N workers slows
// its own arrivals down when the server slows (coordinated omission), so its latencies describe
// saturation; here a slow server meets the same arrivals and its queue shows in the latencies.
//
// Latency is measured from the moment a cycle was due to start, not from when the driver got round
// to sending it, so a stall in the driver (or a wait for a free worker) counts against the system.
// Each cycle needs a simulated worker that is not in the middle of another cycle; an arrival that
// finds none free waits for one (counted as `waited_for_worker`), as an annotator would.
import { Pool } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from './stats.js';
import type { ClaimSplit, Cycle, CycleContext, LoadResult } from './http-load.js';

export interface OpenLoopResult extends LoadResult {
  /** Arrivals the schedule offered inside the measured window. */
  offered: number;
  offeredPerSecond: number;
  /** Cycles started inside the window that had not finished when the drain timeout ran out. */
  unfinished: number;
  waitedForWorker: number;
  /** Cycles (any) that finished inside the measured window, per second: the throughput while it ran. */
  completedPerSecondInWindow: number;
  /** The slowest 1% of the window's claims, on average: where their time went. */
  slowestClaims: SlowestSplit | null;
}

export interface SlowestSplit {
  count: number;
  totalMs: number;
  beforeSendMs: number;
  serverMs: number;
  /** Neither in the driver before sending nor held by the server: the network, the server's socket queue and event loop before fastify saw it, the driver reading the reply. */
  elsewhereMs: number;
}

/** The mean split of the slowest 1% of claims (at least one). */
export function slowestSplit(splits: ClaimSplit[]): SlowestSplit | null {
  if (splits.length === 0) return null;
  const slowest = [...splits].sort((a, b) => b.totalMs - a.totalMs).slice(0, Math.max(1, Math.ceil(splits.length / 100)));
  const mean = (f: (s: ClaimSplit) => number) => slowest.reduce((sum, s) => sum + f(s), 0) / slowest.length;
  const server = mean((s) => (Number.isFinite(s.serverMs) ? s.serverMs : 0));
  const totalMs = mean((s) => s.totalMs);
  const beforeSendMs = mean((s) => s.beforeSendMs);
  return { count: slowest.length, totalMs, beforeSendMs, serverMs: server, elsewhereMs: totalMs - beforeSendMs - server };
}

/** Exponentially distributed gap (ms) of a Poisson process with `perSecond` arrivals per second. */
const gapMs = (perSecond: number) => (-Math.log(1 - Math.random()) / perSecond) * 1000;

export async function runOpenLoop(opts: {
  origins: string[];
  /** Simulated workers available; a cycle takes a free one. */
  workers: number;
  /** Offered cycles per second. */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  /** How long to wait after the window for the cycles that started in it. */
  drainSeconds?: number;
  cycle: Cycle;
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}): Promise<OpenLoopResult> {
  const perOrigin = Math.ceil(opts.workers / opts.origins.length);
  const pools = opts.origins.map((origin) => new Pool(origin, { connections: perOrigin, pipelining: 1, keepAliveTimeout: 60_000 }));
  const free: number[] = Array.from({ length: opts.workers }, (_, i) => opts.workers - 1 - i);
  const waiting: ((worker: number) => void)[] = [];
  const takeWorker = (): number | Promise<number> => free.pop() ?? new Promise<number>((resolve) => waiting.push(resolve));
  const giveBack = (worker: number) => {
    const next = waiting.shift();
    if (next) next(worker);
    else free.push(worker);
  };

  let cycles = 0;
  let idle = 0;
  let offered = 0;
  let waitedForWorker = 0;
  let inWindow = 0;
  let finishedInWindow = 0;
  let completedDuringWindow = 0;
  let windowOpen = false;
  const claimMs: number[] = [];
  const claimSplits: ClaimSplit[] = [];
  const otherMs: number[] = [];
  const errors: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();

  const start = async (dueAt: number, counted: boolean) => {
    let worker = takeWorker();
    if (typeof worker !== 'number') {
      if (counted) waitedForWorker++;
      worker = await worker;
    }
    const claims: number[] = [];
    const splits: ClaimSplit[] = [];
    const others: number[] = [];
    const ctx: CycleContext = {
      pool: pools[worker % pools.length]!,
      loop: worker,
      dueAt,
      recordClaimSplit: (split) => splits.push(split),
      // The claim's latency runs from when the cycle was due (see the header), not from when it was sent.
      recordClaim: () => claims.push(performance.now() - dueAt),
      recordOther: (ms) => others.push(ms),
    };
    let outcome: string;
    try {
      outcome = await opts.cycle(ctx);
    } catch (err) {
      outcome = (err as { code?: string }).code ?? (err as Error).name ?? 'exception';
    }
    giveBack(worker);
    if (windowOpen && outcome === 'ok') completedDuringWindow++;
    if (!counted) return;
    finishedInWindow++;
    if (outcome === 'ok') {
      cycles++;
      claimMs.push(...claims);
      claimSplits.push(...splits);
      otherMs.push(...others);
    } else if (outcome === 'idle') idle++;
    else errors[outcome] = (errors[outcome] ?? 0) + 1;
  };

  const warmupEnd = performance.now() + opts.warmupSeconds * 1000;
  const end = warmupEnd + opts.seconds * 1000;
  let measuring = false;
  let due = performance.now();
  let windowStart = 0;
  while (due < end) {
    const now = performance.now();
    if (!measuring && due >= warmupEnd) {
      measuring = true;
      windowStart = performance.now();
      windowOpen = true;
      opts.onMeasureStart?.();
    }
    if (due > now) await sleep(due - now);
    // Every arrival due by now starts now (timers are coarse at high rates), each with its own due time.
    const until = performance.now();
    while (due <= until && due < end) {
      const counted = due >= warmupEnd;
      if (counted) {
        offered++;
        inWindow++;
      }
      const p = start(due, counted);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      due += gapMs(opts.rate);
    }
  }
  const seconds = (performance.now() - windowStart) / 1000;
  windowOpen = false;
  opts.onMeasureEnd?.();
  const drain = Promise.all([...inFlight]);
  await Promise.race([drain, sleep((opts.drainSeconds ?? 30) * 1000)]);
  await Promise.all(pools.map((p) => p.destroy()));
  return {
    cycles,
    seconds,
    cyclesPerSecond: cycles / seconds,
    claim: summarize(claimMs),
    other: summarize(otherMs),
    idle,
    errors,
    offered,
    offeredPerSecond: offered / seconds,
    unfinished: inWindow - finishedInWindow,
    waitedForWorker,
    completedPerSecondInWindow: completedDuringWindow / seconds,
    slowestClaims: slowestSplit(claimSplits),
  };
}
