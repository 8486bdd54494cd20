import type { ChoicesValue, Comparison } from './types.js';

export interface ChoicesCompareOptions {
  /** Multiple-choice controls score by Jaccard; single-choice by exact equality. */
  multiple?: boolean;
  /** Pass when score >= passScore (default 1: the same choice, or the same set). */
  passScore?: number;
}

export interface ChoicesComparison extends Comparison {
  /** |a ∩ b| and |a ∪ b| of the distinct choices. */
  intersection: number;
  union: number;
}

/**
 * Single choice: 1 when both picked the same value, else 0. Multiple: Jaccard |a∩b| / |a∪b|. Values
 * are byte-exact. Two empty answers agree (1); one empty answer against a non-empty one scores 0.
 */
export function compareChoices(a: ChoicesValue | undefined, b: ChoicesValue | undefined, options: ChoicesCompareOptions = {}): ChoicesComparison {
  const passScore = options.passScore ?? 1;
  const sa = new Set(a?.choices ?? []);
  const sb = new Set(b?.choices ?? []);
  let intersection = 0;
  for (const x of sa) if (sb.has(x)) intersection++;
  const union = sa.size + sb.size - intersection;
  let score: number;
  if (union === 0) score = 1;
  else if (options.multiple) score = intersection / union;
  else score = sa.size === 1 && sb.size === 1 && intersection === 1 ? 1 : 0;
  return { score, pass: score >= passScore, intersection, union };
}
