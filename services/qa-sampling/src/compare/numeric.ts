import type { Comparison, NumberValue, RatingValue } from './types.js';

export interface NumericCompareOptions {
  /** |a − b| <= tolerance scores 1 (default 0: exact). */
  tolerance?: number;
  /**
   * Beyond the tolerance the score falls linearly, reaching 0 at `scale` away (e.g. the rating range,
   * max − min). Without a scale anything beyond the tolerance scores 0.
   */
  scale?: number;
  /** Pass when score >= passScore (default 1: within the tolerance). */
  passScore?: number;
}

export interface NumericComparison extends Comparison {
  /** |a − b|; Infinity when either side is missing. */
  difference: number;
}

function compareNumbers(x: number | undefined, y: number | undefined, options: NumericCompareOptions): NumericComparison {
  const passScore = options.passScore ?? 1;
  if (x === undefined && y === undefined) return { score: 1, pass: true, difference: 0 };
  if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) return { score: 0, pass: passScore <= 0, difference: Infinity };
  const difference = Math.abs(x - y);
  const tolerance = options.tolerance ?? 0;
  let score: number;
  // A relative epsilon, so 0.1 + 0.2 is within a tolerance of 0.3 − 0 and 1e9-scale numbers behave too.
  if (difference <= tolerance + 1e-12 * Math.max(1, Math.abs(x), Math.abs(y))) score = 1;
  else if (options.scale && options.scale > 0) score = Math.max(0, 1 - difference / options.scale);
  else score = 0;
  return { score, pass: score >= passScore, difference };
}

export function compareRating(a: RatingValue | undefined, b: RatingValue | undefined, options: NumericCompareOptions = {}): NumericComparison {
  return compareNumbers(a?.rating, b?.rating, options);
}

export function compareNumber(a: NumberValue | undefined, b: NumberValue | undefined, options: NumericCompareOptions = {}): NumericComparison {
  return compareNumbers(a?.number, b?.number, options);
}
