import { compareControl, type ControlSpec } from '../compare/answer.js';
import type { BoxesValue, ChoicesValue, Comparison, ImageSize, NumberValue, RatingValue, SpansValue, TextValue } from '../compare/types.js';
import { aggregateBoxes, type BoxAggregationOptions } from './boxes.js';
import { aggregateSpans, type SpanAggregationOptions } from './spans.js';
import { aggregateText, type TextAggregationOptions } from './text.js';

/** One item's decision for one control: the result in the control's answer shape and how sure it is. */
export interface ControlDecision<V = unknown> {
  value: V;
  /** In [0, 1]: mean agreement of the annotations with the result (see each aggregator). */
  agreement: number;
  /** In [0, 1]: what dynamic overlap compares with the job's floor. */
  confidence: number;
}

/**
 * Choices of one item. Single choice: the (weighted) most voted value, ties to the first seen;
 * confidence = its share of the weight (for a posterior-based confidence with worker accuracies use
 * labelPosterior, or the job-level methods). Multiple: each value whose weight exceeds half the
 * total is in (binary relevance: every choice is its own yes/no vote); confidence = the mean over
 * voted values of the winning side's share.
 */
export function aggregateChoices(annotations: readonly (ChoicesValue | undefined)[], options: { multiple?: boolean; weights?: readonly number[] } = {}): ControlDecision<ChoicesValue> {
  const weightOf = (a: number) => options.weights?.[a] ?? 1;
  const tally = new Map<string, number>();
  let total = 0;
  annotations.forEach((ann, a) => {
    const w = weightOf(a);
    total += w;
    for (const c of new Set(ann?.choices ?? [])) tally.set(c, (tally.get(c) ?? 0) + w);
  });
  if (annotations.length === 0 || total <= 0) return { value: { choices: [] }, agreement: 1, confidence: 1 };
  let value: string[];
  let confidence: number;
  if (options.multiple) {
    value = [...tally].filter(([, w]) => w > total / 2).map(([c]) => c);
    let s = 0;
    for (const [, w] of tally) s += Math.max(w, total - w) / total;
    confidence = tally.size ? s / tally.size : 1;
  } else {
    let best: string | null = null;
    let bestW = -1;
    for (const [c, w] of tally) if (w > bestW) ((best = c), (bestW = w));
    value = best === null ? [] : [best];
    confidence = best === null ? 1 : bestW / total;
  }
  const chosen = new Set(value);
  let agree = 0;
  for (const ann of annotations) {
    const mine = new Set(ann?.choices ?? []);
    let inter = 0;
    for (const c of mine) if (chosen.has(c)) inter++;
    const union = mine.size + chosen.size - inter;
    agree += union === 0 ? 1 : options.multiple ? inter / union : inter === union ? 1 : 0;
  }
  return { value: { choices: value }, agreement: agree / annotations.length, confidence };
}

/**
 * Ratings and numbers: the median (for an even count, the lower middle value, so a rating stays one
 * of the values given); agreement = confidence = share of annotations within `tolerance` of it.
 */
export function aggregateNumeric(values: readonly (number | undefined)[], options: { tolerance?: number } = {}): ControlDecision<number | null> {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { value: null, agreement: values.length ? 0 : 1, confidence: values.length ? 0 : 1 };
  const med = v[(v.length - 1) >> 1]!;
  const tol = options.tolerance ?? 0;
  const within = v.filter((x) => Math.abs(x - med) <= tol + 1e-12 * Math.max(1, Math.abs(med))).length;
  const share = within / values.length;
  return { value: med, agreement: share, confidence: share };
}

export interface AggregateControlContext {
  image?: ImageSize;
  /** The task's text, for span results' `text`. */
  text?: string;
  /** Per-annotation vote weights for choices (e.g. oneCoinWeights of the annotators). */
  weights?: readonly number[];
  boxes?: Omit<BoxAggregationOptions, 'image'>;
  spans?: Omit<SpanAggregationOptions, 'text'>;
  transcription?: TextAggregationOptions;
  /** Tolerance for rating/number agreement. */
  tolerance?: number;
}

/**
 * Decides one control of one item from its annotations' values (absent values count as empty
 * answers). Categorical controls at the job level go through majorityVote / accuracyWeightedVote /
 * dawidSkene instead, which learn worker quality across items; this is the per-item rule.
 * Polygons and keypoints (no rule in the issue) take the medoid annotation: the one with the
 * highest mean comparison score against the others.
 */
export function aggregateControl(control: ControlSpec, values: readonly unknown[], context: AggregateControlContext = {}): ControlDecision {
  switch (control.type) {
    case 'choices':
      return aggregateChoices(values as ChoicesValue[], { multiple: control.multiple ?? false, ...(context.weights ? { weights: context.weights } : {}) });
    case 'labels':
      return aggregateSpans(values as SpansValue[], { ...context.spans, ...(context.text !== undefined ? { text: context.text } : {}) });
    case 'rectangle':
      return aggregateBoxes(values as BoxesValue[], { ...context.boxes, ...(context.image ? { image: context.image } : {}) });
    case 'textarea':
      return aggregateText(values as TextValue[], context.transcription);
    case 'rating': {
      const d = aggregateNumeric((values as (RatingValue | undefined)[]).map((v) => v?.rating), { tolerance: context.tolerance ?? 0 });
      return { ...d, value: d.value === null ? null : { rating: d.value } };
    }
    case 'number': {
      const d = aggregateNumeric((values as (NumberValue | undefined)[]).map((v) => v?.number), { tolerance: context.tolerance ?? 0 });
      return { ...d, value: d.value === null ? null : { number: d.value } };
    }
    case 'polygon':
    case 'keypoint':
      return aggregateByMedoid(values, (a, b) => compareControl(control, a, b, context.image ? { image: context.image } : {}));
    default: {
      const never: never = control.type;
      throw new Error(`unknown control type ${String(never)}`);
    }
  }
}

/**
 * The annotation with the highest mean score against all others (ties to the earliest);
 * agreement = confidence = that mean (1 for a single annotation).
 */
export function aggregateByMedoid<V>(values: readonly V[], compare: (a: V, b: V) => Comparison): ControlDecision<V | null> {
  const n = values.length;
  if (n === 0) return { value: null, agreement: 1, confidence: 1 };
  if (n === 1) return { value: values[0]!, agreement: 1, confidence: 1 };
  const score = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) score[i * n + j] = score[j * n + i] = compare(values[i]!, values[j]!).score;
  let best = 0;
  let bestMean = -1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) if (j !== i) s += score[i * n + j]!;
    const mean = s / (n - 1);
    if (mean > bestMean) ((bestMean = mean), (best = i));
  }
  return { value: values[best]!, agreement: bestMean, confidence: bestMean };
}
