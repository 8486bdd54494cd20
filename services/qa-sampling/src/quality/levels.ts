import { DEFAULT_ACCURACY_PRIOR, probabilityAbove, smoothedAccuracy, type AccuracyPrior } from './accuracy.js';

/** The job's (or skill's) quality bars. */
export interface SkillThresholds {
  /** Smoothed accuracy strictly below this suspends (the job's `accuracy_floor`). */
  accuracyFloor: number;
  /** N: no suspension before this many gold answers. */
  minGoldForSuspension: number;
  /** Smoothed accuracy at or above this promotes. */
  promotionBar: number;
  /** M: no promotion before this many gold answers (counted since the last level change). */
  minGoldForPromotion: number;
  /** Highest level (default 5). */
  maxLevel?: number;
  /**
   * Optional extra guard: promote only when P(true accuracy > promotionBar) >= this. Off by default;
   * the smoothed mean and M already keep a short lucky streak from promoting.
   */
  promotionConfidence?: number;
}

export interface SkillStats {
  goldCorrect: number;
  goldTotal: number;
  level: number;
  suspended?: boolean;
}

export type SkillAction = 'suspend' | 'promote' | 'none';

export interface SkillDecision {
  action: SkillAction;
  /** The smoothed accuracy the decision used. */
  accuracy: number;
  /** New level on promotion, the same level otherwise. */
  level: number;
  /** Why, in words the worker and the vendor can read with the evidence. */
  reason: string;
}

/**
 * Suspension or promotion from gold counts. Suspension is checked first and needs at least
 * `minGoldForSuspension` answers with smoothed accuracy below the floor; promotion needs at least
 * `minGoldForPromotion` answers (pass the counts since the last level change, so each level is
 * earned on new evidence: that is the "sustained" part) with smoothed accuracy at or above the
 * bar, and a level below the maximum. A suspended worker is neither suspended again nor promoted.
 */
export function decideSkillAction(stats: SkillStats, thresholds: SkillThresholds, prior: AccuracyPrior = DEFAULT_ACCURACY_PRIOR): SkillDecision {
  const accuracy = smoothedAccuracy(stats.goldCorrect, stats.goldTotal, prior);
  const shown = `${stats.goldCorrect}/${stats.goldTotal} gold correct, smoothed accuracy ${accuracy.toFixed(3)}`;
  if (stats.suspended) return { action: 'none', accuracy, level: stats.level, reason: `already suspended (${shown})` };
  if (stats.goldTotal >= thresholds.minGoldForSuspension && accuracy < thresholds.accuracyFloor) {
    return { action: 'suspend', accuracy, level: stats.level, reason: `${shown} is below the floor ${thresholds.accuracyFloor} over at least ${thresholds.minGoldForSuspension} gold items` };
  }
  const maxLevel = thresholds.maxLevel ?? 5;
  if (
    stats.level < maxLevel &&
    stats.goldTotal >= thresholds.minGoldForPromotion &&
    accuracy >= thresholds.promotionBar &&
    (thresholds.promotionConfidence === undefined || probabilityAbove(thresholds.promotionBar, stats.goldCorrect, stats.goldTotal, prior) >= thresholds.promotionConfidence)
  ) {
    return { action: 'promote', accuracy, level: stats.level + 1, reason: `${shown} is at or above the bar ${thresholds.promotionBar} over at least ${thresholds.minGoldForPromotion} gold items` };
  }
  return { action: 'none', accuracy, level: stats.level, reason: shown };
}
