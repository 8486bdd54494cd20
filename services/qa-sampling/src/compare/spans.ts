import { labelsKey, matchScores, sameLabels } from './common.js';
import { matchCandidates } from './hungarian.js';
import type { MatchComparison, Span, SpansValue } from './types.js';

export interface SpansCompareOptions {
  /**
   * `exact`: a span matches only a span with the same start, end and labels. `overlap` (default):
   * spans with the same labels match when their ranges share at least one character and their
   * range IoU is >= minOverlap; spans that only touch ([0,5) and [5,9)) share no character.
   */
  mode?: 'exact' | 'overlap';
  /** Range IoU a pair needs in overlap mode (default 0: any shared character). */
  minOverlap?: number;
  /** Spans of different labels never match (default true). */
  labelsMustMatch?: boolean;
  /** Pass when span F1 >= passScore (default 0.8). */
  passScore?: number;
}

/**
 * Span-level F1 between two span answers, spans matched one-to-one. score = F1; precision is the
 * share of `a`'s spans matched, recall the share of `b`'s (pass the gold as `b`).
 */
export function compareSpans(a: SpansValue | undefined, b: SpansValue | undefined, options: SpansCompareOptions = {}): MatchComparison {
  const passScore = options.passScore ?? 0.8;
  const sa = a?.spans ?? [];
  const sb = b?.spans ?? [];
  const labelsMustMatch = options.labelsMustMatch ?? true;
  if ((options.mode ?? 'overlap') === 'exact') return exactSpans(sa, sb, labelsMustMatch, passScore);
  const minOverlap = options.minOverlap ?? 0;
  const n = sa.length;
  const m = sb.length;
  if (n === 0 || m === 0) return matchScores(0, n, m, [], passScore);
  const pairs = matchCandidates(overlappingPairs(sa, sb, minOverlap, labelsMustMatch), n, m);
  return matchScores(pairs.length, n, m, pairs, passScore);
}

function exactSpans(sa: Span[], sb: Span[], labelsMustMatch: boolean, passScore: number): MatchComparison {
  const key = (s: Span) => `${s.start}:${s.end}${labelsMustMatch ? `:${labelsKey(s.labels)}` : ''}`;
  const waiting = new Map<string, number[]>();
  sb.forEach((s, j) => {
    const k = key(s);
    const list = waiting.get(k);
    if (list) list.push(j);
    else waiting.set(k, [j]);
  });
  const pairs: Array<[number, number, number]> = [];
  sa.forEach((s, i) => {
    const list = waiting.get(key(s));
    const j = list?.shift();
    if (j !== undefined) pairs.push([i, j, 1]);
  });
  return matchScores(pairs.length, sa.length, sb.length, pairs, passScore);
}

/** Pairs of spans sharing at least one character, found by a sweep over starts: O(n log n + pairs). */
function overlappingPairs(sa: Span[], sb: Span[], minOverlap: number, labelsMustMatch: boolean): Array<[number, number, number]> {
  const orderB = sb.map((_, j) => j).sort((p, q) => sb[p]!.start - sb[q]!.start);
  const orderA = sa.map((_, i) => i).sort((p, q) => sa[p]!.start - sa[q]!.start);
  const out: Array<[number, number, number]> = [];
  let first = 0; // first index in orderB whose span might still reach the current a-span
  const maxEndB: number[] = [];
  // Spans of b are sorted by start only, so a long early span can overlap late a-spans; track
  // the running maximum end to know when the window can advance safely.
  let running = -Infinity;
  for (const j of orderB) {
    running = Math.max(running, sb[j]!.end);
    maxEndB.push(running);
  }
  for (const i of orderA) {
    const s = sa[i]!;
    while (first < orderB.length && maxEndB[first]! <= s.start) first++;
    for (let k = first; k < orderB.length; k++) {
      const t = sb[orderB[k]!]!;
      if (t.start >= s.end) break;
      const inter = Math.min(s.end, t.end) - Math.max(s.start, t.start);
      if (inter <= 0) continue;
      if (labelsMustMatch && !sameLabels(s.labels, t.labels)) continue;
      const union = s.end - s.start + (t.end - t.start) - inter;
      const iou = union > 0 ? inter / union : 0;
      if (iou >= minOverlap) out.push([i, orderB[k]!, iou]);
    }
  }
  return out;
}
