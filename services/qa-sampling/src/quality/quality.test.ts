import { describe, expect, it } from 'vitest';
import { accuracyEstimate, DEFAULT_ACCURACY_PRIOR, probabilityAbove, smoothedAccuracy } from './accuracy.js';
import { betaCdf, betaQuantile } from './beta.js';
import { detectSuspectGold, fastResponseRule, isFastResponse } from './fraud.js';
import { decideSkillAction, type SkillThresholds } from './levels.js';
import { decideOverlap, labelPosterior, overlapAction } from './overlap.js';
import { shouldReview, uniformFromKey } from './sampling.js';

describe('smoothed accuracy', () => {
  it('three lucky answers do not make an expert', () => {
    expect(smoothedAccuracy(3, 3)).toBeCloseTo(7.2 / 9, 12); // 0.8
    expect(smoothedAccuracy(3, 3)).toBeLessThan(0.9);
    expect(smoothedAccuracy(10, 10)).toBeCloseTo(14.2 / 16, 12);
    expect(smoothedAccuracy(0, 0)).toBeCloseTo(DEFAULT_ACCURACY_PRIOR.mean, 12);
  });
  it('Beta CDF and quantile agree with closed forms', () => {
    // Beta(1,1) is uniform; Beta(2,1) has CDF x²; Beta(1,3) has CDF 1 − (1 − x)³.
    expect(betaCdf(0.3, 1, 1)).toBeCloseTo(0.3, 10);
    expect(betaCdf(0.6, 2, 1)).toBeCloseTo(0.36, 10);
    expect(betaCdf(0.2, 1, 3)).toBeCloseTo(1 - 0.8 ** 3, 10);
    expect(betaQuantile(0.36, 2, 1)).toBeCloseTo(0.6, 8);
    const e = accuracyEstimate(18, 20);
    expect(e.lower).toBeLessThan(e.mean);
    expect(e.upper).toBeGreaterThan(e.mean);
    expect(betaCdf(e.lower, 18 + 4.2, 2 + 1.8)).toBeCloseTo(0.05, 8);
    expect(probabilityAbove(0.9, 3, 3)).toBeLessThan(0.5);
  });
});

describe('suspension and promotion', () => {
  const t: SkillThresholds = { accuracyFloor: 0.7, minGoldForSuspension: 10, promotionBar: 0.9, minGoldForPromotion: 20 };
  it('suspension fires at the N-th gold answer and not before', () => {
    // A worker who fails every gold answer: far below the floor from the first one, but N = 10.
    for (let n = 1; n <= 12; n++) {
      const d = decideSkillAction({ goldCorrect: 0, goldTotal: n, level: 2 }, t);
      expect(d.action).toBe(n >= 10 ? 'suspend' : 'none');
    }
    // At N, 7/10 smooths to exactly the floor (not below): no suspension; 6/10 is below.
    expect(decideSkillAction({ goldCorrect: 7, goldTotal: 10, level: 2 }, t).action).toBe('none');
    expect(decideSkillAction({ goldCorrect: 6, goldTotal: 10, level: 2 }, t)).toMatchObject({ action: 'suspend', level: 2 });
    expect(decideSkillAction({ goldCorrect: 0, goldTotal: 50, level: 2, suspended: true }, t).action).toBe('none');
  });
  it('promotion fires at the M-th gold answer and not before, one level at a time, capped', () => {
    for (let n = 1; n <= 22; n++) {
      const d = decideSkillAction({ goldCorrect: n, goldTotal: n, level: 2 }, t);
      expect(d).toMatchObject(n >= 20 ? { action: 'promote', level: 3 } : { action: 'none' });
    }
    // 18/20 = 90% raw smooths to 22.2/26 = 0.854: not sustained enough.
    expect(decideSkillAction({ goldCorrect: 18, goldTotal: 20, level: 2 }, t).action).toBe('none');
    expect(decideSkillAction({ goldCorrect: 40, goldTotal: 40, level: 5 }, t).action).toBe('none');
    // The optional confidence guard holds a promotion back until the evidence is strong.
    // P(accuracy > 0.9) is 0.78 after 20/20 and 0.90 after 30/30 under the default prior.
    expect(decideSkillAction({ goldCorrect: 20, goldTotal: 20, level: 1 }, { ...t, promotionConfidence: 0.9 }).action).toBe('none');
    expect(decideSkillAction({ goldCorrect: 30, goldTotal: 30, level: 1 }, { ...t, promotionConfidence: 0.9 }).action).toBe('promote');
  });
});

describe('dynamic overlap', () => {
  it('the posterior of two agreeing 0.8 annotators out of 4 labels, by hand', () => {
    // p(c) ∝ 0.8² for the voted label, (0.2/3)² for each of the other three.
    const r = labelPosterior(
      [
        { label: 'a', accuracy: 0.8 },
        { label: 'a', accuracy: 0.8 },
      ],
      4,
    );
    const voted = 0.64;
    const other = (0.2 / 3) ** 2;
    expect(r.label).toBe('a');
    expect(r.confidence).toBeCloseTo(voted / (voted + 3 * other), 12);
    expect(r.unvoted).toBeCloseTo(other / (voted + 3 * other), 12);
  });
  it('a disagreement is resolved toward the more accurate annotator', () => {
    const r = labelPosterior(
      [
        { label: 'a', accuracy: 0.95 },
        { label: 'b', accuracy: 0.6 },
      ],
      2,
    );
    expect(r.label).toBe('a');
    expect(r.confidence).toBeCloseTo((0.95 * 0.4) / (0.95 * 0.4 + 0.05 * 0.6), 12);
  });
  it('asks for one more while below the floor and stops at the maximum', () => {
    const policy = { confidenceFloor: 0.95, maxOverlap: 5, minOverlap: 2 };
    const votes = [
      { label: 'a', accuracy: 0.7 },
      { label: 'b', accuracy: 0.7 },
      { label: 'a', accuracy: 0.7 },
      { label: 'b', accuracy: 0.7 },
      { label: 'a', accuracy: 0.7 },
      { label: 'b', accuracy: 0.7 },
    ];
    const actions = [1, 2, 3, 4, 5, 6].map((n) => decideOverlap(votes.slice(0, n), 2, policy));
    expect(actions.map((d) => d.action)).toEqual(['request_more', 'request_more', 'request_more', 'request_more', 'decide', 'decide']);
    expect(actions[0]!.reason).toBe('below_min_overlap');
    expect(actions[4]).toMatchObject({ reason: 'max_overlap', label: 'a' });
    expect(actions[4]!.confidence).toBeLessThan(0.95);
    const sure = decideOverlap(
      [
        { label: 'x', accuracy: 0.99 },
        { label: 'x', accuracy: 0.99 },
      ],
      2,
      policy,
    );
    expect(sure).toMatchObject({ action: 'decide', reason: 'confident', label: 'x' });
    // The same rule on any confidence (e.g. a box agreement): one more at a time, up to the maximum.
    const steps = [3, 4, 5, 6].map((n) => overlapAction(0.4, n, { confidenceFloor: 0.8, maxOverlap: 5 }).action);
    expect(steps).toEqual(['request_more', 'request_more', 'decide', 'decide']);
  });
});

describe('review sampling', () => {
  it('is reproducible and independent across seeds', () => {
    expect(uniformFromKey('job-1', 'asg-7')).toBe(uniformFromKey('job-1', 'asg-7'));
    expect(uniformFromKey('job-1', 'asg-7')).not.toBe(uniformFromKey('job-2', 'asg-7'));
    expect(shouldReview('s', 'x', 0)).toBe(false);
    expect(shouldReview('s', 'x', 1)).toBe(true);
  });
  it('holds its rate within a binomial bound over 10,000 submissions', () => {
    const n = 10_000;
    for (const rate of [0.02, 0.1, 0.35]) {
      let sampled = 0;
      for (let i = 0; i < n; i++) if (shouldReview('job-42', `assignment-${i}`, rate)) sampled++;
      const sd = Math.sqrt(n * rate * (1 - rate));
      // 4.5 standard deviations: a fair sampler falls outside with probability < 1e-5.
      console.log(`review sampling rate ${rate}: ${sampled}/${n} sampled (expected ${n * rate} ± ${(4.5 * sd).toFixed(1)})`);
      expect(Math.abs(sampled - n * rate)).toBeLessThan(4.5 * sd);
    }
  });
});

describe('fraud and fairness rules', () => {
  it('fast responses', () => {
    expect(isFastResponse(800, 2000)).toBe(true);
    expect(isFastResponse(2000, 2000)).toBe(false);
    expect(isFastResponse(10, 0)).toBe(false);
    expect(fastResponseRule([100, 5000, 100, 100, 6000], { minPlausibleMs: 1000, window: 4, maxFast: 3 })).toEqual({ fast: 2, considered: 4, triggered: false });
    expect(fastResponseRule([100, 100, 100, 6000], { minPlausibleMs: 1000, window: 4, maxFast: 3 }).triggered).toBe(true);
  });
  it('a gold item most experts fail is suspect; one that only weak workers fail is not', () => {
    const expert = (correct: boolean) => ({ correct, workerGoldCorrect: 28 + (correct ? 1 : 0), workerGoldTotal: 31 });
    const weak = (correct: boolean) => ({ correct, workerGoldCorrect: 5 + (correct ? 1 : 0), workerGoldTotal: 12 });
    expect(detectSuspectGold([expert(false), expert(false), expert(false), expert(true), weak(true)])).toEqual({ suspect: true, experts: 4, expertFailures: 3 });
    expect(detectSuspectGold([expert(true), expert(true), expert(false), weak(false), weak(false), weak(false)])).toMatchObject({ suspect: false, experts: 3 });
    // Two experts are not enough evidence against the item.
    expect(detectSuspectGold([expert(false), expert(false)]).suspect).toBe(false);
  });
});
