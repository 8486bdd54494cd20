import { betaCdf, betaQuantile } from './beta.js';

/**
 * A worker's accuracy on a skill as a Beta posterior: prior Beta(mean·strength, (1 − mean)·strength)
 * updated with the gold answers (correct, total). `strength` is the prior's weight in answers.
 */
export interface AccuracyPrior {
  mean: number;
  strength: number;
}

/**
 * The default prior: 6 pseudo-answers at 70% (Beta(4.2, 1.8)). Three lucky answers give 0.80, ten
 * straight give 0.89, twenty give 0.93: an expert bar of 0.9 takes about a dozen correct answers in
 * a row. A prior mean near the usual accuracy floor neither punishes nor favours newcomers there.
 */
export const DEFAULT_ACCURACY_PRIOR: AccuracyPrior = { mean: 0.7, strength: 6 };

/** The posterior mean (correct + mean·strength) / (total + strength). */
export function smoothedAccuracy(correct: number, total: number, prior: AccuracyPrior = DEFAULT_ACCURACY_PRIOR): number {
  return (correct + prior.mean * prior.strength) / (total + prior.strength);
}

export interface AccuracyEstimate {
  correct: number;
  total: number;
  /** Raw share correct (0 with no answers). */
  raw: number;
  /** Smoothed (posterior mean). */
  mean: number;
  /** Equal-tailed credible interval at `level` (default 0.9). */
  lower: number;
  upper: number;
}

export function accuracyEstimate(correct: number, total: number, prior: AccuracyPrior = DEFAULT_ACCURACY_PRIOR, level = 0.9): AccuracyEstimate {
  const a = correct + prior.mean * prior.strength;
  const b = total - correct + (1 - prior.mean) * prior.strength;
  const tail = (1 - level) / 2;
  return { correct, total, raw: total ? correct / total : 0, mean: a / (a + b), lower: betaQuantile(tail, a, b), upper: betaQuantile(1 - tail, a, b) };
}

/** Posterior probability that the true accuracy exceeds `bar`. */
export function probabilityAbove(bar: number, correct: number, total: number, prior: AccuracyPrior = DEFAULT_ACCURACY_PRIOR): number {
  return 1 - betaCdf(bar, correct + prior.mean * prior.strength, total - correct + (1 - prior.mean) * prior.strength);
}
