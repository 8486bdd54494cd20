import type { AccuracyPrior } from '../quality/accuracy.js';
import type { CategoricalAnswers, CategoricalResult } from './categorical.js';
import { agreementWith, goldStats, type TrustOptions } from './trust.js';

/**
 * Dawid–Skene (1979): each worker has a confusion matrix θ_w[y | c] (probability of answering y when
 * the truth is c), classes have a prior π; EM alternates the posterior of each item's true label
 * (E-step, in log space) and the matrices and prior that maximize the expected likelihood (M-step).
 * Checked against crowd-kit's DawidSkene (MV initialization, log-space E-step, gold items' posteriors
 * clamped to their label after every E-step, a stop on the per-answer likelihood change) with these
 * differences, each for a stated reason:
 *
 * - Smoothing: each row θ_w[· | c] has a Dirichlet prior of `confusionPrior.strength` pseudo-answers,
 *   `mean` of them on the diagonal and the rest spread evenly (posterior-mean estimate), instead of
 *   clipping at 1e-10: a worker with 3 answers gets a matrix near the prior, not 0/1 entries.
 * - One-coin fallback: below `minAnswersForConfusion` answers a worker's matrix is one-coin
 *   (accuracy s on the diagonal, (1 − s)/(K − 1) elsewhere, s smoothed the same way): K(K − 1) free
 *   parameters cannot be estimated from a handful of answers.
 * - Gold first: gold items' answers weigh `goldWeight` in the M-step (their truth is known, not
 *   inferred), the first M-step learns workers with enough gold from gold only, and workers that gold
 *   marks as untrustworthy (see TrustOptions) do not vote — colluders who agree with each other
 *   cannot pull the posteriors to their side.
 * - A class-prior pseudo-count (Laplace), so a class absent so far keeps a non-zero prior.
 */
export interface DawidSkeneOptions {
  /** Maximum EM iterations (default 100). */
  maxIterations?: number;
  /** Stop when the log-likelihood per answer changes by less than this (default 1e-6). */
  tolerance?: number;
  /** Dirichlet prior per confusion row (default 4 pseudo-answers, 70% on the diagonal). */
  confusionPrior?: AccuracyPrior;
  /** Full confusion matrix from this many answers on; one-coin below (default 20). */
  minAnswersForConfusion?: number;
  /** Weight of an answer on a gold item in the M-step (default 3). */
  goldWeight?: number;
  /** Pseudo-count per class in the class prior (default 1). */
  classPseudoCount?: number;
  trust?: TrustOptions;
  /** Refuse when items × labels or workers × labels² exceeds this many cells (default 2^25). */
  maxCells?: number;
}

/** Parameters to warm-start from: soft counts per worker (layout [w][y][c]) and per class. */
export interface DawidSkeneWarmStart {
  counts: Float64Array;
  answers: Float64Array;
  classCounts: Float64Array;
}

export interface DawidSkeneResult extends CategoricalResult {
  /** Posterior of item i's true label c at [i·K + c]. */
  posterior: Float64Array;
  /** Soft confusion counts (without the prior) at [(w·K + y)·K + c]: worker w answered y on items of true class c. */
  counts: Float64Array;
  /** Per worker: weighted number of answers (gold ones count goldWeight). */
  answers: Float64Array;
  classCounts: Float64Array;
  /** Per worker: 1 when a full confusion matrix was used, 0 for the one-coin fallback. */
  fullMatrix: Uint8Array;
  iterations: number;
  converged: boolean;
  logLikelihood: number;
}

export class DawidSkeneTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DawidSkeneTooLargeError';
  }
}

export interface ResolvedDsOptions {
  maxIterations: number;
  tolerance: number;
  alpha: number;
  p0: number;
  minAnswers: number;
  goldWeight: number;
  beta: number;
  trust: TrustOptions;
  maxCells: number;
}

export function resolveDsOptions(o: DawidSkeneOptions = {}): ResolvedDsOptions {
  return {
    maxIterations: o.maxIterations ?? 100,
    tolerance: o.tolerance ?? 1e-6,
    alpha: o.confusionPrior?.strength ?? 4,
    p0: o.confusionPrior?.mean ?? 0.7,
    minAnswers: o.minAnswersForConfusion ?? 20,
    goldWeight: o.goldWeight ?? 3,
    beta: o.classPseudoCount ?? 1,
    trust: o.trust ?? {},
    maxCells: o.maxCells ?? 2 ** 25,
  };
}

/**
 * log θ[y | c] for one worker into out[outOff + y·K + c], from soft counts at counts[off + y·K + c].
 * Returns whether the full matrix was used (else one-coin).
 */
export function fillLogTheta(counts: ArrayLike<number>, off: number, K: number, answers: number, o: ResolvedDsOptions, out: Float64Array, outOff: number): boolean {
  const offDiag = (1 - o.p0) / (K - 1);
  if (answers >= o.minAnswers) {
    for (let c = 0; c < K; c++) {
      let row = 0;
      for (let y = 0; y < K; y++) row += counts[off + y * K + c]!;
      const denom = row + o.alpha;
      for (let y = 0; y < K; y++) {
        out[outOff + y * K + c] = Math.log((counts[off + y * K + c]! + o.alpha * (y === c ? o.p0 : offDiag)) / denom);
      }
    }
    return true;
  }
  let diag = 0;
  let total = 0;
  for (let y = 0; y < K; y++) {
    for (let c = 0; c < K; c++) {
      const v = counts[off + y * K + c]!;
      total += v;
      if (y === c) diag += v;
    }
  }
  const s = (diag + o.alpha * o.p0) / (total + o.alpha);
  const right = Math.log(s);
  const wrong = Math.log((1 - s) / (K - 1));
  for (let y = 0; y < K; y++) for (let c = 0; c < K; c++) out[outOff + y * K + c] = y === c ? right : wrong;
  return false;
}

/** Batch Dawid–Skene over all answers; warm-started when given parameters of a previous run. */
export function dawidSkene(data: CategoricalAnswers, options: DawidSkeneOptions = {}, warm?: DawidSkeneWarmStart): DawidSkeneResult {
  const o = resolveDsOptions(options);
  const { nItems, nWorkers: W, itemStart, worker, label, gold } = data;
  const K = Math.max(1, data.nLabels);
  if (nItems * K > o.maxCells || W * K * K > o.maxCells) {
    throw new DawidSkeneTooLargeError(`Dawid–Skene over ${nItems} items, ${W} workers and ${K} labels needs more than ${o.maxCells} cells`);
  }
  const stats = goldStats(data, o.trust);
  const trusted = stats.trusted;
  const post = new Float64Array(nItems * K);
  const counts = new Float64Array(W * K * K);
  const answers = new Float64Array(W);
  const classCounts = new Float64Array(K);
  const logTheta = new Float64Array(W * K * K);
  const logPi = new Float64Array(K);
  const fullMatrix = new Uint8Array(W);
  const scratch = new Float64Array(K);
  const minGold = o.trust.minGold ?? 5;

  const mStep = (goldOnlyForGoldWorkers: boolean) => {
    counts.fill(0);
    answers.fill(0);
    classCounts.fill(0);
    for (let i = 0; i < nItems; i++) {
      const isGold = gold[i]! >= 0;
      const wgt = isGold ? o.goldWeight : 1;
      const pBase = i * K;
      for (let c = 0; c < K; c++) classCounts[c]! += post[pBase + c]!;
      for (let k = itemStart[i]!; k < itemStart[i + 1]!; k++) {
        const w = worker[k]!;
        if (goldOnlyForGoldWorkers && !isGold && stats.goldTotal[w]! >= minGold) continue;
        answers[w]! += wgt;
        const base = (w * K + label[k]!) * K;
        for (let c = 0; c < K; c++) counts[base + c]! += wgt * post[pBase + c]!;
      }
    }
  };

  const params = () => {
    if (K < 2) return;
    for (let w = 0; w < W; w++) fullMatrix[w] = fillLogTheta(counts, w * K * K, K, answers[w]!, o, logTheta, w * K * K) ? 1 : 0;
    let total = 0;
    for (let c = 0; c < K; c++) total += classCounts[c]! + o.beta;
    for (let c = 0; c < K; c++) logPi[c] = Math.log((classCounts[c]! + o.beta) / total);
  };

  /** Writes posteriors, returns the log-likelihood of the non-gold items' trusted answers. */
  const eStep = (): number => {
    let ll = 0;
    for (let i = 0; i < nItems; i++) {
      const pBase = i * K;
      const g = gold[i]!;
      if (g >= 0 || K < 2) {
        for (let c = 0; c < K; c++) post[pBase + c] = c === (g >= 0 ? g : 0) ? 1 : 0;
        continue;
      }
      scratch.set(logPi);
      for (let k = itemStart[i]!; k < itemStart[i + 1]!; k++) {
        const w = worker[k]!;
        if (!trusted[w]) continue;
        const base = (w * K + label[k]!) * K;
        for (let c = 0; c < K; c++) scratch[c]! += logTheta[base + c]!;
      }
      let max = -Infinity;
      for (let c = 0; c < K; c++) if (scratch[c]! > max) max = scratch[c]!;
      let z = 0;
      for (let c = 0; c < K; c++) {
        const e = Math.exp(scratch[c]! - max);
        scratch[c] = e;
        z += e;
      }
      const inv = 1 / z;
      for (let c = 0; c < K; c++) post[pBase + c] = scratch[c]! * inv;
      ll += max + Math.log(z);
    }
    return ll;
  };

  if (warm) {
    counts.set(warm.counts);
    answers.set(warm.answers);
    classCounts.set(warm.classCounts);
  } else {
    initFromVotes(data, trusted, post, K);
    mStep(true);
  }
  let prev = -Infinity;
  let iterations = 0;
  let converged = false;
  let ll = 0;
  const nAnswers = Math.max(1, worker.length);
  while (iterations < o.maxIterations) {
    params();
    ll = eStep();
    mStep(false);
    iterations++;
    if (Math.abs(ll - prev) / nAnswers < o.tolerance) {
      converged = true;
      break;
    }
    prev = ll;
  }
  params();

  const decided = new Int32Array(nItems).fill(-1);
  const confidence = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    if (itemStart[i + 1] === itemStart[i] && gold[i]! < 0) continue;
    let best = 0;
    for (let c = 1; c < K; c++) if (post[i * K + c]! > post[i * K + best]!) best = c;
    decided[i] = best;
    confidence[i] = post[i * K + best]!;
  }
  // Expected accuracy under the class prior: Σ_c π_c θ_w[c | c].
  const workerAccuracy = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    let acc = 0;
    for (let c = 0; c < K; c++) acc += Math.exp(logPi[c]! + logTheta[w * K * K + c * K + c]!);
    workerAccuracy[w] = K < 2 ? 1 : acc;
  }
  return {
    method: 'dawid_skene',
    label: decided,
    confidence,
    agreement: agreementWith(data, decided),
    workerAccuracy,
    workerTrusted: trusted,
    goldTotal: stats.goldTotal,
    goldCorrect: stats.goldCorrect,
    posterior: post,
    counts,
    answers,
    classCounts,
    fullMatrix,
    iterations,
    converged,
    logLikelihood: ll,
  };
}

/** Majority-vote shares of the trusted answers as the initial posteriors (uniform with none); gold clamped. */
function initFromVotes(data: CategoricalAnswers, trusted: Uint8Array, post: Float64Array, K: number): void {
  for (let i = 0; i < data.nItems; i++) {
    const pBase = i * K;
    const g = data.gold[i]!;
    if (g >= 0) {
      post[pBase + g] = 1;
      continue;
    }
    let n = 0;
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) {
      if (!trusted[data.worker[k]!]) continue;
      post[pBase + data.label[k]!]! += 1;
      n++;
    }
    if (n === 0) for (let c = 0; c < K; c++) post[pBase + c] = 1 / K;
    else for (let c = 0; c < K; c++) post[pBase + c]! /= n;
  }
}
