import type { MatchComparison } from './types.js';

/** Label lists compare as sets, byte-exact (values are never trimmed or case-folded). */
export function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === b.length && a.length <= 1) return a.length === 0 || a[0] === b[0];
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return false;
  for (const x of sa) if (!sb.has(x)) return false;
  return true;
}

/** A canonical key of a label set, for hashing. */
export function labelsKey(labels: readonly string[]): string {
  return labels.length <= 1 ? (labels[0] ?? '') : JSON.stringify([...new Set(labels)].sort());
}

/**
 * Precision / recall / F1 from the match count. Two empty lists agree fully (score 1): "there is
 * nothing to mark" is an answer, and a gold item with no objects is passed by marking none.
 */
export function matchScores(matched: number, nA: number, nB: number, pairs: Array<[number, number, number]>, passScore: number): MatchComparison {
  const precision = nA === 0 ? (nB === 0 ? 1 : 0) : matched / nA;
  const recall = nB === 0 ? (nA === 0 ? 1 : 0) : matched / nB;
  const f1 = nA + nB === 0 ? 1 : (2 * matched) / (nA + nB);
  return { score: f1, pass: f1 >= passScore, matched, precision, recall, f1, pairs };
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
