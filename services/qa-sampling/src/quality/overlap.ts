/**
 * Dynamic overlap (Toloka's model): the posterior probability of the leading label given the
 * answers so far and each annotator's smoothed accuracy, under the one-coin model — an annotator of
 * accuracy p gives the true label with probability p and each of the other K − 1 labels with
 * probability (1 − p)/(K − 1). Below the job's floor the task asks for one more annotation, until
 * its maximum overlap.
 */

export interface Vote {
  label: string;
  /** The annotator's smoothed accuracy on this skill (see smoothedAccuracy). */
  accuracy: number;
}

export interface LabelPosterior {
  /** The most probable label (null with no votes). */
  label: string | null;
  /** Its posterior probability, in [0, 1]. */
  confidence: number;
  /** Posterior of every voted label; each unvoted label has `unvoted`. */
  posterior: Map<string, number>;
  unvoted: number;
}

const MIN_P = 1e-4;

/**
 * P(true label = c | votes) ∝ Π_votes (p if vote = c else (1 − p)/(K − 1)), under a uniform prior
 * over the K labels (Toloka's choice: a skewed prior would let a frequent label win on one vote). `nLabels` is K, the number of labels the control offers
 * (at least the number of distinct votes). Accuracies are clamped into [1e-4, 1 − 1e-4].
 */
export function labelPosterior(votes: readonly Vote[], nLabels: number): LabelPosterior {
  const distinct = new Map<string, number>();
  for (const v of votes) if (!distinct.has(v.label)) distinct.set(v.label, distinct.size);
  const K = Math.max(nLabels, distinct.size, 2);
  // log score of every voted label, and of an unvoted one: each vote adds log p to its own label and
  // log((1 − p)/(K − 1)) to every other; accumulating the "other" part once keeps this O(votes).
  const own = new Float64Array(distinct.size);
  let others = 0;
  for (const v of votes) {
    const p = Math.min(1 - MIN_P, Math.max(MIN_P, v.accuracy));
    const lo = Math.log((1 - p) / (K - 1));
    own[distinct.get(v.label)!]! += Math.log(p) - lo;
    others += lo;
  }
  const labels = [...distinct.keys()];
  const scores = labels.map((_, i) => others + own[i]!);
  const unvotedCount = K - labels.length;
  const unvotedScore = others;
  let max = unvotedCount > 0 ? unvotedScore : -Infinity;
  for (const s of scores) max = Math.max(max, s);
  let z = unvotedCount > 0 ? unvotedCount * Math.exp(unvotedScore - max) : 0;
  for (const s of scores) z += Math.exp(s - max);
  const posterior = new Map<string, number>();
  let best: string | null = null;
  let bestP = -1;
  labels.forEach((l, i) => {
    const p = Math.exp(scores[i]! - max) / z;
    posterior.set(l, p);
    if (p > bestP) {
      bestP = p;
      best = l;
    }
  });
  const unvoted = unvotedCount > 0 ? Math.exp(unvotedScore - max) / z : 0;
  return { label: best, confidence: best === null ? 0 : bestP, posterior, unvoted };
}

export interface OverlapPolicy {
  /** Decide once the leading label's posterior is at least this (the job's confidence floor). */
  confidenceFloor: number;
  /** Never ask beyond this many annotations (the job's maximum overlap). */
  maxOverlap: number;
  /** Never decide before this many (the job's base overlap, default 1). */
  minOverlap?: number;
}

export interface OverlapDecision {
  /** `decide` now, or `request_more`: ask for exactly one more annotation. */
  action: 'decide' | 'request_more';
  label: string | null;
  confidence: number;
  /** `confident`, `max_overlap` (decided below the floor because the maximum is reached), or `below_floor` / `below_min_overlap` when asking for more. */
  reason: 'confident' | 'max_overlap' | 'below_floor' | 'below_min_overlap';
}

export function decideOverlap(votes: readonly Vote[], nLabels: number, policy: OverlapPolicy): OverlapDecision {
  const { label, confidence } = labelPosterior(votes, nLabels);
  return { label, confidence, ...overlapAction(confidence, votes.length, policy) };
}

/**
 * The overlap rule alone, for a confidence computed elsewhere (a Dawid–Skene posterior, a box or
 * span agreement): decide when confident or at the maximum, otherwise ask for one more.
 */
export function overlapAction(confidence: number, annotations: number, policy: OverlapPolicy): Pick<OverlapDecision, 'action' | 'reason'> {
  if (annotations < (policy.minOverlap ?? 1)) return { action: 'request_more', reason: 'below_min_overlap' };
  if (confidence >= policy.confidenceFloor) return { action: 'decide', reason: 'confident' };
  if (annotations >= policy.maxOverlap) return { action: 'decide', reason: 'max_overlap' };
  return { action: 'request_more', reason: 'below_floor' };
}
