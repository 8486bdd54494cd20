import { randomInt, seededRandom } from '../util/rng.js';

/**
 * Seeded synthetic crowds for tests and benchmarks: each worker is accurate (answers the truth with
 * probability `accuracy`, otherwise a uniformly wrong label), random (uniform over all labels), or
 * a colluder (all colluders give the same per-item label, drawn at random, regardless of truth), or
 * shifted (systematically confuses: answers label t + 1 for truth t with probability `accuracy`).
 */
export type SyntheticWorker = { kind: 'accurate'; accuracy: number } | { kind: 'random' } | { kind: 'colluder' } | { kind: 'shifted'; accuracy: number };

export interface SyntheticJob {
  rows: Array<{ item: string; worker: string; label: string; gold?: string }>;
  truth: Map<string, string>;
  labels: string[];
}

export function syntheticJob(options: { seed: number; items: number; labels: number; workers: SyntheticWorker[]; goldShare?: number; perItem?: number }): SyntheticJob {
  const rnd = seededRandom(options.seed);
  const labels = Array.from({ length: options.labels }, (_, k) => `L${k}`);
  const rows: SyntheticJob['rows'] = [];
  const truth = new Map<string, string>();
  const perItem = options.perItem ?? options.workers.length;
  for (let i = 0; i < options.items; i++) {
    const item = `item-${i}`;
    const t = randomInt(rnd, labels.length);
    truth.set(item, labels[t]!);
    const isGold = rnd() < (options.goldShare ?? 0);
    const collusion = randomInt(rnd, labels.length);
    // perItem workers drawn without replacement.
    const order = options.workers.map((_, w) => w);
    for (let k = order.length - 1; k > 0; k--) {
      const j = randomInt(rnd, k + 1);
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
    for (const w of order.slice(0, perItem).sort((a, b) => a - b)) {
      const kind = options.workers[w]!;
      let l: number;
      if (kind.kind === 'accurate') {
        l = rnd() < kind.accuracy ? t : (t + 1 + randomInt(rnd, labels.length - 1)) % labels.length;
      } else if (kind.kind === 'shifted') {
        l = rnd() < kind.accuracy ? (t + 1) % labels.length : randomInt(rnd, labels.length);
      } else if (kind.kind === 'random') {
        l = randomInt(rnd, labels.length);
      } else {
        l = collusion;
      }
      rows.push({ item, worker: `w${w}`, label: labels[l]!, ...(isGold ? { gold: labels[t]! } : {}) });
    }
  }
  return { rows, truth, labels };
}
