import type { CategoricalAnswers, CategoricalResult } from './categorical.js';
import { agreementWith, estimateWorkerAccuracy, goldStats, type GoldStats, type TrustOptions } from './trust.js';

export interface VoteOptions {
  trust?: TrustOptions;
}

/**
 * Majority vote over the trusted workers' answers. A gold item's result is its gold label
 * (confidence 1). Ties go to the label with the lowest index (first interned), deterministically;
 * a tie shows as a confidence of 1/(number tied) or less, which dynamic overlap treats as "ask one more".
 * Confidence = the winner's share of the votes.
 */
export function majorityVote(data: CategoricalAnswers, options: VoteOptions = {}): CategoricalResult {
  const stats = goldStats(data, options.trust);
  const { label, confidence } = weightedDecision(data, stats, null);
  return finish('majority', data, stats, label, confidence, options.trust);
}

/**
 * Accuracy-weighted vote, gold first. Each trusted worker's vote weighs log((K − 1)·p / (1 − p)),
 * the optimal weight under the one-coin model for accuracy p (0 for p <= 1/K: a worker no better
 * than chance adds nothing). p comes from gold when the worker has enough gold answers, otherwise
 * from agreement with the majority vote (Wawa's idea), re-estimated once against the weighted
 * result. Crowd-kit's Wawa weighs a vote by the raw agreement itself; the log-odds weight is what the
 * one-coin model makes optimal and turns the scores into a calibrated posterior. Confidence = the one-coin posterior of the winner, softmax of the weighted scores over
 * all K labels — the same quantity dynamic overlap uses.
 */
export function accuracyWeightedVote(data: CategoricalAnswers, options: VoteOptions = {}): CategoricalResult {
  const stats = goldStats(data, options.trust);
  let decided = weightedDecision(data, stats, null).label;
  let result: { label: Int32Array; confidence: Float64Array } = { label: decided, confidence: new Float64Array(0) };
  for (let round = 0; round < 2; round++) {
    const accuracy = estimateWorkerAccuracy(data, decided, stats, options.trust);
    const weights = oneCoinWeights(accuracy, data.nLabels);
    result = weightedDecision(data, stats, weights);
    decided = result.label;
  }
  return finish('accuracy_weighted', data, stats, result.label, result.confidence, options.trust);
}

/** log((K − 1)·p / (1 − p)), floored at 0, p clamped to [1e-3, 1 − 1e-3]. */
export function oneCoinWeights(accuracy: Float64Array, nLabels: number): Float64Array {
  const K = Math.max(2, nLabels);
  const out = new Float64Array(accuracy.length);
  for (let w = 0; w < accuracy.length; w++) {
    const p = Math.min(1 - 1e-3, Math.max(1e-3, accuracy[w]!));
    out[w] = Math.max(0, Math.log(((K - 1) * p) / (1 - p)));
  }
  return out;
}

/**
 * Per item: the label with the highest (weighted) vote among trusted workers. With `weights` null
 * every vote weighs 1 and confidence is the vote share; with weights, confidence is the softmax
 * posterior over all K labels (unvoted labels score 0).
 */
function weightedDecision(data: CategoricalAnswers, stats: GoldStats, weights: Float64Array | null): { label: Int32Array; confidence: Float64Array } {
  const K = data.nLabels;
  const label = new Int32Array(data.nItems).fill(-1);
  const confidence = new Float64Array(data.nItems);
  const score = new Float64Array(K);
  const touched = new Int32Array(K);
  for (let i = 0; i < data.nItems; i++) {
    const g = data.gold[i]!;
    if (g >= 0) {
      label[i] = g;
      confidence[i] = 1;
      continue;
    }
    let nTouched = 0;
    let total = 0;
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) {
      const w = data.worker[k]!;
      if (!stats.trusted[w]) continue;
      const l = data.label[k]!;
      const v = weights ? weights[w]! : 1;
      if (score[l] === 0 && !isTouched(touched, nTouched, l)) touched[nTouched++] = l;
      score[l]! += v;
      total += v;
    }
    if (nTouched === 0) continue;
    let best = -1;
    let bestScore = -Infinity;
    for (let t = 0; t < nTouched; t++) {
      const l = touched[t]!;
      if (score[l]! > bestScore || (score[l] === bestScore && l < best)) {
        best = l;
        bestScore = score[l]!;
      }
    }
    label[i] = best;
    if (weights) {
      // softmax over K labels: touched ones have their score, the K − nTouched others 0.
      let z = (K - nTouched) * Math.exp(-bestScore);
      for (let t = 0; t < nTouched; t++) z += Math.exp(score[touched[t]!]! - bestScore);
      confidence[i] = 1 / z;
    } else {
      confidence[i] = total > 0 ? bestScore / total : 0;
    }
    for (let t = 0; t < nTouched; t++) score[touched[t]!] = 0;
  }
  return { label, confidence };
}

function isTouched(touched: Int32Array, n: number, l: number): boolean {
  for (let t = 0; t < n; t++) if (touched[t] === l) return true;
  return false;
}

function finish(method: CategoricalResult['method'], data: CategoricalAnswers, stats: GoldStats, label: Int32Array, confidence: Float64Array, trust?: TrustOptions): CategoricalResult {
  return {
    method,
    label,
    confidence,
    agreement: agreementWith(data, label),
    workerAccuracy: estimateWorkerAccuracy(data, label, stats, trust),
    workerTrusted: stats.trusted,
    goldTotal: stats.goldTotal,
    goldCorrect: stats.goldCorrect,
  };
}
