import { aggregateChoices, aggregateControl, type ControlDecision } from '../aggregate/control.js';
import { observeItem, type DsItemRecord, type DsState } from '../aggregate/incremental-ds.js';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { labelPosterior } from '../quality/overlap.js';
import type { JobControl, QaPolicy } from './policy.js';

/** One recorded annotation of a task. */
export interface Annotation {
  assignmentId: number;
  workerId: string;
  answer: unknown;
}

/** What the job-level methods know of the annotators (from gold first: see QA-CORE.md "Trust"). */
export interface Annotators {
  /** Smoothed accuracy on the job's skill (the prior mean without gold). */
  accuracy(workerId: string): number;
  /** False for a worker whose gold says their votes must not count (colluders, spammers). */
  trusted(workerId: string): boolean;
}

export interface TaskConsensus {
  result: Record<string, unknown>;
  /** Mean over controls of the annotations' agreement with the result. */
  agreement: number;
  /** The least sure control's confidence: what dynamic overlap compares with the floor. */
  confidence: number;
  /** Dawid–Skene item records by control, to store with the task (only for dawid_skene). */
  dsRecords: Record<string, DsItemRecord>;
  /** Per annotation, in input order: its score against the result and whether it passes. */
  judged: { assignmentId: number; score: number; pass: boolean }[];
}

const valueOf = (answer: unknown, control: string): unknown => (answer && typeof answer === 'object' ? (answer as Record<string, unknown>)[control] : undefined);
const firstChoice = (v: unknown): string | undefined => {
  const c = (v as { choices?: unknown } | undefined)?.choices;
  return Array.isArray(c) && typeof c[0] === 'string' ? c[0] : undefined;
};

/**
 * Decides one task from its annotations by the job's method, control by control. Single-choice
 * controls go through the job-level method: majority (vote share), accuracy-weighted (the one-coin
 * posterior from each annotator's smoothed gold accuracy) or Dawid–Skene (incremental: the item's
 * share in the job's state `dsStates[control]` is replaced, which mutates that state). Every other
 * control is decided per item (aggregateControl: IoU clusters for boxes, per-character vote for spans,
 * the medoid text), weighted by accuracy under accuracy_weighted. Votes of untrusted annotators do not
 * count (unless every annotator is untrusted). Each annotation is then judged against the result.
 */
export function decideTask(
  controls: readonly JobControl[],
  policy: Pick<QaPolicy, 'method'>,
  annotations: readonly Annotation[],
  annotators: Annotators,
  dsStates: ReadonlyMap<string, DsState>,
  dsRecords: Record<string, DsItemRecord> | null,
): TaskConsensus {
  const trustedOnes = annotations.filter((a) => annotators.trusted(a.workerId));
  const voters = trustedOnes.length > 0 ? trustedOnes : annotations;
  const result: Record<string, unknown> = {};
  const records: Record<string, DsItemRecord> = {};
  let agreementSum = 0;
  let confidence = 1;
  let counted = 0;
  for (const control of controls) {
    const values = voters.map((a) => valueOf(a.answer, control.name));
    if (values.every((v) => v === undefined)) continue; // a control nobody answered stays out of the result
    let d: ControlDecision;
    const state = control.labels ? dsStates.get(control.name) : undefined;
    if (control.labels && policy.method === 'dawid_skene' && state) {
      const answers = voters.flatMap((a) => {
        const label = firstChoice(valueOf(a.answer, control.name));
        return label !== undefined && state.labels.includes(label) ? [{ worker: a.workerId, label }] : [];
      });
      if (answers.length === 0) {
        d = aggregateChoices(values as never[]);
      } else {
        const out = observeItem(state, { answers, gold: null, applied: dsRecords?.[control.name]?.applied ?? null }, { trust: { untrustedBelow: 0 } });
        records[control.name] = out.record;
        const agree = answers.filter((a) => a.label === out.label).length / voters.length;
        d = { value: { choices: [out.label] }, agreement: agree, confidence: out.confidence };
      }
    } else if (control.labels && policy.method === 'accuracy_weighted') {
      const votes = voters.flatMap((a) => {
        const label = firstChoice(valueOf(a.answer, control.name));
        return label === undefined ? [] : [{ label, accuracy: annotators.accuracy(a.workerId) }];
      });
      const post = labelPosterior(votes, control.labels.length);
      const agree = votes.filter((v) => v.label === post.label).length / voters.length;
      d = { value: { choices: post.label === null ? [] : [post.label] }, agreement: votes.length ? agree : 1, confidence: post.confidence };
    } else {
      const weights = policy.method === 'accuracy_weighted' ? voters.map((a) => annotators.accuracy(a.workerId)) : undefined;
      d = aggregateControl(control, values, weights ? { weights } : {});
    }
    if (d.value !== null && d.value !== undefined) result[control.name] = d.value;
    agreementSum += d.agreement;
    confidence = Math.min(confidence, d.confidence);
    counted++;
  }
  const judged = annotations.map((a) => {
    const c = compareAnswers(controls, a.answer as Answer, result as Answer);
    return { assignmentId: a.assignmentId, score: clamp01(c.score), pass: c.pass };
  });
  return { result, agreement: counted ? clamp01(agreementSum / counted) : 1, confidence: clamp01(confidence), dsRecords: records, judged };
}

export const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
