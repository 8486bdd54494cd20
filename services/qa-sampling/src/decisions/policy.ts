import { predictionPolicyFrom, storedQaPolicy } from '@fairlabel/contracts';
import type { ControlSpec } from '../compare/answer.js';
import type { ControlType } from '../compare/types.js';

/** A job's QA policy with every default filled in (jobs created before a field existed get its default). */
export interface QaPolicy {
  goldRatio: number;
  reviewSampleRate: number;
  method: 'majority' | 'accuracy_weighted' | 'dawid_skene';
  accuracyFloor: number;
  /** Decisions whose confidence is below this ask for one more annotation (until maxOverlap); 0: never. */
  minAgreement: number;
  /** Dynamic overlap's ceiling: the job's overlap unless the policy raises it. */
  maxOverlap: number;
  /** 0: no fast-answer rule. */
  minPlausibleMs: number;
  minGoldForSuspension: number;
  promotionBar: number;
  minGoldForPromotion: number;
  /** Review sampling (reviews/): the lowest level a reviewer needs; whether a vendor's workers may review each other. */
  reviewerLevel: number;
  reviewSameVendor: boolean;
  /** Model predictions (predictions/): what a prediction at or above the threshold does. */
  predictionMode: 'auto' | 'verify' | 'assist';
  predictionThreshold: number;
}

export const DEFAULT_MIN_GOLD_FOR_SUSPENSION = 10;
export const DEFAULT_PROMOTION_BAR = 0.9;
export const DEFAULT_MIN_GOLD_FOR_PROMOTION = 20;
export const DEFAULT_REVIEWER_LEVEL = 2;

export function resolvePolicy(stored: unknown, overlap: number): QaPolicy {
  const p = storedQaPolicy(stored);
  const prediction = predictionPolicyFrom(p);
  return {
    goldRatio: p.gold_ratio,
    reviewSampleRate: p.review_sample_rate,
    method: p.consensus_method,
    accuracyFloor: p.accuracy_floor,
    minAgreement: p.min_agreement ?? 0,
    maxOverlap: Math.max(overlap, p.max_overlap ?? overlap),
    minPlausibleMs: p.min_plausible_ms ?? 0,
    minGoldForSuspension: p.min_gold_for_suspension ?? DEFAULT_MIN_GOLD_FOR_SUSPENSION,
    promotionBar: p.promotion_bar ?? DEFAULT_PROMOTION_BAR,
    minGoldForPromotion: p.min_gold_for_promotion ?? DEFAULT_MIN_GOLD_FOR_PROMOTION,
    reviewerLevel: p.reviewer_level ?? DEFAULT_REVIEWER_LEVEL,
    reviewSameVendor: p.review_same_vendor ?? true,
    predictionMode: prediction.mode,
    predictionThreshold: prediction.threshold,
  };
}

/** A control of the v2 label config as QA needs it; `labels` for single choices (the categorical controls). */
export interface JobControl extends ControlSpec {
  labels?: string[];
}

/** The controls of a v2 label config (`{version: 2, objects, controls}`), in config order. */
export function controlsOf(labelConfig: unknown): JobControl[] {
  const controls = (labelConfig as { controls?: unknown[] } | null)?.controls;
  if (!Array.isArray(controls)) return [];
  return controls.map((raw) => {
    const c = raw as { name: string; type: ControlType; multiple?: boolean; choices?: string[] };
    const spec: JobControl = { name: c.name, type: c.type };
    if (c.type === 'choices') {
      spec.multiple = c.multiple ?? false;
      if (!spec.multiple && Array.isArray(c.choices)) spec.labels = [...c.choices];
    }
    return spec;
  });
}

/** The skill a job's gold scores a worker in: its required skill, or '*' for jobs that require none. */
export const skillOf = (requiredSkill: string | null): string => requiredSkill ?? '*';
