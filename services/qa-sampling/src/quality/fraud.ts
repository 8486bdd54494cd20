import { DEFAULT_ACCURACY_PRIOR, smoothedAccuracy, type AccuracyPrior } from './accuracy.js';

/** An answer given faster than the job's minimum plausible time: flagged, and counted as failed gold. */
export function isFastResponse(timeSpentMs: number, minPlausibleMs: number): boolean {
  return minPlausibleMs > 0 && timeSpentMs < minPlausibleMs;
}

/**
 * Toloka's fast-response rule over a worker's recent answers: triggered when at least `maxFast` of
 * the last `window` answers were fast. `recentTimesMs` is newest last.
 */
export function fastResponseRule(recentTimesMs: readonly number[], rule: { minPlausibleMs: number; window: number; maxFast: number }): { fast: number; considered: number; triggered: boolean } {
  const recent = recentTimesMs.slice(-rule.window);
  let fast = 0;
  for (const t of recent) if (isFastResponse(t, rule.minPlausibleMs)) fast++;
  return { fast, considered: recent.length, triggered: fast >= rule.maxFast };
}

/** One attempt at a gold item, with the attempting worker's gold record on the skill (including this attempt). */
export interface GoldAttempt {
  correct: boolean;
  workerGoldCorrect: number;
  workerGoldTotal: number;
}

export interface SuspectGoldOptions {
  /** A worker is high-accuracy when the smoothed accuracy of their other gold answers is at least this (default 0.85). */
  expertAccuracy?: number;
  /** Their other gold answers must number at least this (default 10). */
  minExpertGold?: number;
  /** At least this many experts must have tried the item (default 3). */
  minExperts?: number;
  /** Suspect when more than this share of the experts failed it (default 0.5: "most"). */
  failShare?: number;
  prior?: AccuracyPrior;
}

export interface SuspectGoldResult {
  suspect: boolean;
  experts: number;
  expertFailures: number;
}

/**
 * A gold item most high-accuracy workers fail is more likely wrong than they are. Each worker's
 * accuracy is taken leave-one-out (without this attempt), so the item's own verdict does not decide
 * who counts as an expert. A suspect item should stop counting and its failures be reversed.
 */
export function detectSuspectGold(attempts: readonly GoldAttempt[], options: SuspectGoldOptions = {}): SuspectGoldResult {
  const expertAccuracy = options.expertAccuracy ?? 0.85;
  const minExpertGold = options.minExpertGold ?? 10;
  const prior = options.prior ?? DEFAULT_ACCURACY_PRIOR;
  let experts = 0;
  let expertFailures = 0;
  for (const a of attempts) {
    const otherTotal = a.workerGoldTotal - 1;
    const otherCorrect = a.workerGoldCorrect - (a.correct ? 1 : 0);
    if (otherTotal < minExpertGold) continue;
    if (smoothedAccuracy(otherCorrect, otherTotal, prior) < expertAccuracy) continue;
    experts++;
    if (!a.correct) expertFailures++;
  }
  const suspect = experts >= (options.minExperts ?? 3) && expertFailures > (options.failShare ?? 0.5) * experts;
  return { suspect, experts, expertFailures };
}
