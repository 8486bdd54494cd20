import type { BuiltAnswers } from './categorical.js';
import { fillLogTheta, resolveDsOptions, type DawidSkeneOptions, type DawidSkeneResult, type DawidSkeneWarmStart } from './dawid-skene.js';
import { trustedByGold } from './trust.js';

/**
 * Incremental Dawid–Skene for one job and one categorical control, as answers arrive.
 *
 * EM's sufficient statistics are sums over items: each worker's soft confusion counts and the soft
 * class counts. Each item's share of them is its posterior times its answers. So an item can be
 * re-estimated alone (Neal & Hinton's incremental EM): take its old share out of the sums, run its
 * E-step against the parameters the sums give, put its new share back. A submission costs
 * O(answers of the item × K²), not a rerun over the job; a sweep of observeItem over every item is
 * one EM iteration, warm-started, so a periodic `refreshItems` over the job (or its recent items)
 * lets what was learned later reach earlier decisions.
 *
 * Two pieces of state, both plain JSON:
 * - DsState, one per job + control (small: K² numbers per worker), e.g. a jsonb row the consumer
 *   reads and writes in the same transaction as the decision;
 * - DsItemRecord, one per item (its answers, gold, and the share it currently has in the state),
 *   stored with the item's QA row. Pass it back on the item's next answer.
 *
 * The same DawidSkeneOptions must be used for the life of a state (the gold weight is recorded in
 * each applied share, so a change only affects shares applied after it).
 */
export interface DsWorkerState {
  /** Weighted number of answers (gold ones count the gold weight). */
  answers: number;
  /** Soft confusion counts, K×K at [y·K + c]: answered y on items of true class c. */
  counts: number[];
  goldTotal: number;
  goldCorrect: number;
}

export interface DsState {
  v: 1;
  /** The control's labels; their order is the index order of every array here. */
  labels: string[];
  /** Soft count of items per true class. */
  classCounts: number[];
  workers: Record<string, DsWorkerState>;
}

export interface DsAnswer {
  worker: string;
  label: string;
}

/** The share an item currently has in a DsState. */
export interface DsApplied {
  answers: DsAnswer[];
  gold: string | null;
  posterior: number[];
  weight: number;
}

export interface DsItemRecord {
  answers: DsAnswer[];
  gold?: string | null;
  applied?: DsApplied | null;
}

export interface DsItemDecision {
  /** Most probable label (the gold label for a gold item). */
  label: string;
  /** Its posterior probability, in [0, 1]. */
  confidence: number;
  /** Posterior per label, in state.labels order. */
  posterior: number[];
  /** The record to store with the item: its answers, gold, and the share now in the state. */
  record: DsItemRecord;
}

export function createDsState(labels: readonly string[]): DsState {
  if (new Set(labels).size !== labels.length || labels.length === 0) throw new Error('createDsState: labels must be distinct and non-empty');
  return { v: 1, labels: [...labels], classCounts: labels.map(() => 0), workers: {} };
}

const indexCache = new WeakMap<string[], Map<string, number>>();
function labelIndex(state: DsState): Map<string, number> {
  let m = indexCache.get(state.labels);
  if (!m) {
    m = new Map(state.labels.map((l, k) => [l, k]));
    indexCache.set(state.labels, m);
  }
  return m;
}

function indexOf(state: DsState, label: string): number {
  const k = labelIndex(state).get(label);
  if (k === undefined) throw new Error(`label "${label}" is not one of the control's labels`);
  return k;
}

function workerState(state: DsState, id: string): DsWorkerState {
  let w = state.workers[id];
  if (!w) {
    const K = state.labels.length;
    w = { answers: 0, counts: new Array<number>(K * K).fill(0), goldTotal: 0, goldCorrect: 0 };
    state.workers[id] = w;
  }
  return w;
}

function applyShare(state: DsState, share: DsApplied, sign: 1 | -1): void {
  const K = state.labels.length;
  const g = share.gold === null ? -1 : indexOf(state, share.gold);
  for (let c = 0; c < K; c++) state.classCounts[c] = Math.max(0, state.classCounts[c]! + sign * share.posterior[c]!);
  for (const a of share.answers) {
    const w = workerState(state, a.worker);
    const y = indexOf(state, a.label);
    w.answers = Math.max(0, w.answers + sign * share.weight);
    for (let c = 0; c < K; c++) w.counts[y * K + c] = Math.max(0, w.counts[y * K + c]! + sign * share.weight * share.posterior[c]!);
    if (g >= 0) {
      w.goldTotal += sign;
      if (y === g) w.goldCorrect += sign;
    }
  }
}

/**
 * Re-estimates one item: removes its previous share (record.applied) from the state, computes its
 * posterior from the state's parameters, adds the new share. Mutates `state`; returns the decision
 * and the record to store.
 */
export function observeItem(state: DsState, record: DsItemRecord, options: DawidSkeneOptions = {}): DsItemDecision {
  const o = resolveDsOptions(options);
  const K = state.labels.length;
  if (record.applied) applyShare(state, record.applied, -1);
  const gold = record.gold ?? null;
  const g = gold === null ? -1 : indexOf(state, gold);
  const posterior = new Array<number>(K).fill(0);
  if (g >= 0 || K === 1) {
    posterior[g >= 0 ? g : 0] = 1;
  } else {
    let total = 0;
    for (let c = 0; c < K; c++) total += state.classCounts[c]! + o.beta;
    const s = state.classCounts.map((n) => Math.log((n + o.beta) / total));
    const logTheta = new Float64Array(K * K);
    for (const a of record.answers) {
      const w = state.workers[a.worker];
      const y = indexOf(state, a.label);
      if (w && !trustedByGold(w.goldTotal, w.goldCorrect, o.trust)) continue;
      if (w) fillLogTheta(w.counts, 0, K, w.answers, o, logTheta, 0);
      else fillLogTheta(zeroCounts(K), 0, K, 0, o, logTheta, 0);
      for (let c = 0; c < K; c++) s[c]! += logTheta[y * K + c]!;
    }
    const max = Math.max(...s);
    let z = 0;
    for (let c = 0; c < K; c++) z += posterior[c] = Math.exp(s[c]! - max);
    for (let c = 0; c < K; c++) posterior[c]! /= z;
  }
  const applied: DsApplied = { answers: record.answers.map((a) => ({ worker: a.worker, label: a.label })), gold, posterior, weight: gold === null ? 1 : o.goldWeight };
  applyShare(state, applied, 1);
  let best = 0;
  for (let c = 1; c < K; c++) if (posterior[c]! > posterior[best]!) best = c;
  return { label: state.labels[best]!, confidence: posterior[best]!, posterior, record: { answers: record.answers, gold, applied } };
}

const zeroCache = new Map<number, number[]>();
function zeroCounts(K: number): number[] {
  let z = zeroCache.get(K);
  if (!z) zeroCache.set(K, (z = new Array<number>(K * K).fill(0)));
  return z;
}

/**
 * `sweeps` incremental EM passes over the given items (all of a job's items for a periodic full
 * refresh, or a recent window). Returns the final decisions, records updated, in input order.
 */
export function refreshItems(state: DsState, records: readonly DsItemRecord[], options: DawidSkeneOptions & { sweeps?: number } = {}): DsItemDecision[] {
  let current = [...records];
  let out: DsItemDecision[] = [];
  for (let s = 0; s < (options.sweeps ?? 1); s++) {
    out = current.map((r) => observeItem(state, r, options));
    current = out.map((d) => d.record);
  }
  return out;
}

/** A JSON state and per-item records from a batch fit (e.g. to seed a job's state from its history). */
export function dsStateFromBatch(built: BuiltAnswers, result: DawidSkeneResult, options: DawidSkeneOptions = {}): { state: DsState; records: Map<string, DsItemRecord> } {
  const o = resolveDsOptions(options);
  const K = built.labels.length;
  const state = createDsState(built.labels);
  const { data } = built;
  const records = new Map<string, DsItemRecord>();
  for (let i = 0; i < data.nItems; i++) {
    const answers: DsAnswer[] = [];
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) answers.push({ worker: built.workers[data.worker[k]!]!, label: built.labels[data.label[k]!]! });
    const gold = data.gold[i]! >= 0 ? built.labels[data.gold[i]!]! : null;
    const posterior = Array.from(result.posterior.subarray(i * K, i * K + K));
    const applied: DsApplied = { answers, gold, posterior, weight: gold === null ? 1 : o.goldWeight };
    applyShare(state, applied, 1);
    records.set(built.items[i]!, { answers, gold, applied });
  }
  return { state, records };
}

/** Warm-start parameters for a batch fit over `built` from a JSON state (workers and labels matched by name). */
export function warmStartFromState(state: DsState, built: BuiltAnswers): DawidSkeneWarmStart {
  const K = built.labels.length;
  const W = built.workers.length;
  const counts = new Float64Array(W * K * K);
  const answers = new Float64Array(W);
  const classCounts = new Float64Array(K);
  const map = built.labels.map((l) => labelIndex(state).get(l) ?? -1);
  const SK = state.labels.length;
  built.labels.forEach((_, c) => {
    if (map[c]! >= 0) classCounts[c] = state.classCounts[map[c]!]!;
  });
  built.workers.forEach((id, w) => {
    const ws = state.workers[id];
    if (!ws) return;
    answers[w] = ws.answers;
    for (let y = 0; y < K; y++) {
      const sy = map[y]!;
      if (sy < 0) continue;
      for (let c = 0; c < K; c++) {
        const sc = map[c]!;
        if (sc >= 0) counts[(w * K + y) * K + c] = ws.counts[sy * SK + sc]!;
      }
    }
  });
  return { counts, answers, classCounts };
}
