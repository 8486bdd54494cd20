import { DEFAULT_ACCURACY_PRIOR, smoothedAccuracy, type AccuracyPrior } from '../quality/accuracy.js';
import type { CategoricalAnswers } from './categorical.js';

/**
 * Gold-anchored trust, shared by every categorical method. Agreement alone is fooled by workers who
 * collude (they agree with each other perfectly), so gold decides first: a worker with at least
 * `minGold` gold answers whose smoothed gold accuracy is below `untrustedBelow` is excluded from the
 * vote, and a worker's accuracy estimate comes from gold when it has `minGold` gold answers, from
 * gold plus agreement with the decided results otherwise.
 */
export interface TrustOptions {
  prior?: AccuracyPrior;
  /** Gold answers needed before gold alone judges a worker (default 5). */
  minGold?: number;
  /** Smoothed gold accuracy under which a worker is excluded (default 0.5; 0 never excludes). */
  untrustedBelow?: number;
}

export interface GoldStats {
  goldTotal: Int32Array;
  goldCorrect: Int32Array;
  trusted: Uint8Array;
}

/** The exclusion rule of TrustOptions for one worker's gold record. */
export function trustedByGold(goldTotal: number, goldCorrect: number, options: TrustOptions = {}): boolean {
  return !(goldTotal >= (options.minGold ?? 5) && smoothedAccuracy(goldCorrect, goldTotal, options.prior ?? DEFAULT_ACCURACY_PRIOR) < (options.untrustedBelow ?? 0.5));
}

export function goldStats(data: CategoricalAnswers, options: TrustOptions = {}): GoldStats {
  const goldTotal = new Int32Array(data.nWorkers);
  const goldCorrect = new Int32Array(data.nWorkers);
  for (let i = 0; i < data.nItems; i++) {
    const g = data.gold[i]!;
    if (g < 0) continue;
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) {
      const w = data.worker[k]!;
      goldTotal[w]!++;
      if (data.label[k] === g) goldCorrect[w]!++;
    }
  }
  const trusted = new Uint8Array(data.nWorkers);
  for (let w = 0; w < data.nWorkers; w++) trusted[w] = trustedByGold(goldTotal[w]!, goldCorrect[w]!, options) ? 1 : 0;
  return { goldTotal, goldCorrect, trusted };
}

/**
 * Accuracy per worker, gold first: smoothed gold accuracy when the worker has `minGold` gold answers,
 * else smoothed over gold plus agreement with `decided` on the non-gold items.
 */
export function estimateWorkerAccuracy(data: CategoricalAnswers, decided: Int32Array, stats: GoldStats, options: TrustOptions = {}): Float64Array {
  const agree = new Int32Array(data.nWorkers);
  const seen = new Int32Array(data.nWorkers);
  for (let i = 0; i < data.nItems; i++) {
    if (data.gold[i]! >= 0 || decided[i]! < 0) continue;
    const d = decided[i]!;
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) {
      const w = data.worker[k]!;
      seen[w]!++;
      if (data.label[k] === d) agree[w]!++;
    }
  }
  const minGold = options.minGold ?? 5;
  const prior = options.prior ?? DEFAULT_ACCURACY_PRIOR;
  const out = new Float64Array(data.nWorkers);
  for (let w = 0; w < data.nWorkers; w++) {
    const gt = stats.goldTotal[w]!;
    const gc = stats.goldCorrect[w]!;
    out[w] = gt >= minGold ? smoothedAccuracy(gc, gt, prior) : smoothedAccuracy(gc + agree[w]!, gt + seen[w]!, prior);
  }
  return out;
}

/** Share of each item's answers equal to its decided label. */
export function agreementWith(data: CategoricalAnswers, decided: Int32Array): Float64Array {
  const out = new Float64Array(data.nItems);
  for (let i = 0; i < data.nItems; i++) {
    const s = data.itemStart[i]!;
    const e = data.itemStart[i + 1]!;
    if (e === s || decided[i]! < 0) continue;
    let same = 0;
    for (let k = s; k < e; k++) if (data.label[k] === decided[i]) same++;
    out[i] = same / (e - s);
  }
  return out;
}
