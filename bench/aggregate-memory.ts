// `pnpm tsx bench/aggregate-memory.ts` (or `pnpm bench aggregate-memory`): the streaming aggregator
// behind POST /v1/qa/aggregate (bring your own labels) on BENCH_AGG_ROWS (default 1,000,000)
// synthetic (item, worker, label[, gold]) rows: BENCH_AGG_OVERLAP answers per item (3),
// BENCH_AGG_LABELS labels (10), BENCH_AGG_WORKERS workers (1,000: a quarter each at 0.9, 0.75, 0.6
// accuracy and random), 5% gold items. Each phase runs in its own child process so its peak RSS
// (getrusage maxrss) is its own:
//   generate      only produces the row strings (the floor every phase pays),
//   map-baseline  plain JS: Map<item, Map<label, count>>, then the majority per item,
//   majority / accuracy_weighted / dawid_skene  the StreamingAggregator (typed columns, interning).
// Each phase consumes every per-item and per-worker outcome, as the route would stream them out, and
// prints accuracy against the known truth. Bar from issue 11: 1M rows under 300 MB RSS.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../services/qa-sampling/src/util/rng.js';
import { StreamingAggregator, type AggregateMethod } from '../services/qa-sampling/src/stream/aggregator.js';

const ROWS = Number(process.env.BENCH_AGG_ROWS ?? 1_000_000);
const OVERLAP = Number(process.env.BENCH_AGG_OVERLAP ?? 3);
const LABELS = Number(process.env.BENCH_AGG_LABELS ?? 10);
const WORKERS = Number(process.env.BENCH_AGG_WORKERS ?? 1000);
const GOLD_SHARE = 0.05;
const PHASES = ['generate', 'map-baseline', 'majority', 'accuracy_weighted', 'dawid_skene'] as const;
type Phase = (typeof PHASES)[number];

function truthOf(item: number): number {
  return (Math.imul(item + 1, 2654435761) >>> 7) % LABELS;
}

/** Rows in item order, fresh strings each time (as a parser would produce them). */
function* rows(): Generator<{ item: string; worker: string; label: string; gold: string | null }> {
  const rnd = seededRandom(2026);
  const items = Math.ceil(ROWS / OVERLAP);
  let emitted = 0;
  for (let i = 0; i < items && emitted < ROWS; i++) {
    const t = truthOf(i);
    const gold = rnd() < GOLD_SHARE ? `label-${t}` : null;
    for (let j = 0; j < OVERLAP && emitted < ROWS; j++, emitted++) {
      const w = Math.floor(rnd() * WORKERS);
      const kind = w % 4;
      const p = kind === 0 ? 0.9 : kind === 1 ? 0.75 : kind === 2 ? 0.6 : 1 / LABELS;
      const l = rnd() < p ? t : Math.floor(rnd() * LABELS);
      yield { item: `item-${i}`, worker: `worker-${w}`, label: `label-${l}`, gold };
    }
  }
}

function child(phase: Phase): void {
  const started = performance.now();
  let right = 0;
  let decided = 0;
  let checksum = 0;
  let extra = '';
  if (phase === 'generate') {
    for (const r of rows()) checksum += r.item.length + r.worker.length + r.label.length;
  } else if (phase === 'map-baseline') {
    const counts = new Map<string, Map<string, number>>();
    for (const r of rows()) {
      let m = counts.get(r.item);
      if (!m) counts.set(r.item, (m = new Map()));
      m.set(r.label, (m.get(r.label) ?? 0) + 1);
    }
    for (const [item, m] of counts) {
      let best = '';
      let bestN = -1;
      for (const [l, n] of m) if (n > bestN) ((best = l), (bestN = n));
      decided++;
      if (best === `label-${truthOf(Number(item.slice(5)))}`) right++;
    }
  } else {
    const agg = new StreamingAggregator({ expectedRows: ROWS });
    for (const r of rows()) agg.push(r);
    const out = agg.run(phase as AggregateMethod);
    for (const o of out.itemOutcomes()) {
      if (o.gold !== null) continue;
      decided++;
      if (o.label === `label-${truthOf(Number(o.item.slice(5)))}`) right++;
    }
    for (const w of out.workerOutcomes()) checksum += w.accuracy;
    if (out.iterations !== undefined) extra = `${out.iterations} EM iterations${out.converged ? '' : ' (not converged)'}`;
  }
  const ms = performance.now() - started;
  const peakMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ phase, ms, peakMb, accuracy: decided ? right / decided : null, extra, checksum }));
}

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  console.log(`aggregate-memory: ${ROWS.toLocaleString('en')} rows, overlap ${OVERLAP}, ${LABELS} labels, ${WORKERS} workers, ${GOLD_SHARE * 100}% gold; node ${process.version}`);
  console.log('phase               time (ms)   peak RSS (MB)   accuracy vs truth (non-gold items)');
  let failed = false;
  for (const phase of PHASES) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self], { env: { ...process.env, BENCH_AGG_PHASE: phase }, encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(`phase ${phase} failed:\n${r.stderr}`);
      failed = true;
      continue;
    }
    const m = JSON.parse(line) as { ms: number; peakMb: number; accuracy: number | null; extra: string };
    const acc = m.accuracy === null ? '' : m.accuracy.toFixed(4);
    console.log(`${phase.padEnd(18)} ${m.ms.toFixed(0).padStart(10)} ${m.peakMb.toFixed(1).padStart(15)}   ${acc} ${m.extra}`);
  }
  console.log('bar: POST /v1/qa/aggregate of 1M rows under 300 MB RSS (the aggregator phases include generating the rows, see "generate")');
  process.exit(failed ? 1 : 0);
}

const phase = process.env.BENCH_AGG_PHASE as Phase | undefined;
if (phase) child(phase);
else parent();
