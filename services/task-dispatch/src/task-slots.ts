import { predictionPolicyOf, predictionQualifies } from '@fairlabel/contracts';
import type { StagedRow } from './import/validation.js';

/**
 * How many annotations an imported task needs: the job's overlap, except that under prediction_mode
 * `verify` a task whose prediction qualifies needs one human to confirm it (qa-sampling's
 * predictions/verify.ts decides it on the first agreeing answer; a disagreeing one asks for the overlap
 * back by task.overlap_requested). Gold items keep the overlap: they have no slots of their own.
 */
export interface TaskSlots {
  overlap: number;
  /** The threshold a prediction must reach when the job's prediction_mode is `verify`; null otherwise. */
  verifyThreshold: number | null;
}

export function taskSlotsOf(job: { overlap: number; qa_policy: unknown }): TaskSlots {
  const p = predictionPolicyOf(job.qa_policy);
  return { overlap: job.overlap, verifyThreshold: p.mode === 'verify' ? p.threshold : null };
}

export const needsOneVerifier = (r: Pick<StagedRow, 'gold' | 'prediction' | 'confidence'>, slots: TaskSlots): boolean =>
  slots.verifyThreshold !== null && r.gold === null && r.prediction !== null && predictionQualifies(r.confidence, slots.verifyThreshold);
