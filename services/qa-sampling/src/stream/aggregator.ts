import { CategoricalBuilder, type BuiltAnswers, type CategoricalAnswers, type CategoricalResult } from '../aggregate/categorical.js';
import { dawidSkeneSteps, type DawidSkeneOptions } from '../aggregate/dawid-skene.js';
import type { TrustOptions } from '../aggregate/trust.js';
import { accuracyWeightedVote, majorityVote } from '../aggregate/vote.js';

/** `one_coin` is Dawid–Skene with one accuracy per worker (no confusion matrices): each worker's answers are right with probability s, wrong ones spread evenly. */
export type AggregateMethod = 'majority' | 'accuracy_weighted' | 'one_coin' | 'dawid_skene';

export interface AggregateRow {
  item: string;
  worker: string;
  label: string;
  /** The item's known answer, if it is gold (empty or null: not gold). */
  gold?: string | null;
}

export interface ItemOutcome {
  item: string;
  /** Decided label, or null for an item whose answers all came from excluded workers. */
  label: string | null;
  /** In [0, 1]: posterior of the label (weighted, Dawid–Skene) or its vote share (majority); 1 for gold. */
  confidence: number;
  /** Share of the item's answers equal to the label. */
  agreement: number;
  answers: number;
  gold: string | null;
}

export interface WorkerOutcome {
  worker: string;
  /** Estimated accuracy in [0, 1]. */
  accuracy: number;
  answers: number;
  goldTotal: number;
  goldCorrect: number;
  /** False when gold evidence excluded the worker from the vote. */
  trusted: boolean;
}

export interface AggregateRunOptions {
  trust?: TrustOptions;
  /** Dawid–Skene settings (its `trust` defaults to the one above). */
  dawidSkene?: DawidSkeneOptions;
}

export interface AggregateOutcome {
  method: AggregateMethod;
  rows: number;
  items: number;
  workers: number;
  labels: readonly string[];
  /** Items given two different gold labels (the first was kept). */
  goldConflicts: number;
  /** Answers by a worker on an item that worker had already answered (each is counted as given). */
  duplicateAnswers: number;
  /** Dawid–Skene and one-coin only. */
  iterations?: number;
  converged?: boolean;
  /** Per item, in first-seen order; generated lazily so a route can stream it out. */
  itemOutcomes(): Generator<ItemOutcome>;
  workerOutcomes(): Generator<WorkerOutcome>;
}

/**
 * The core of `POST /v1/qa/aggregate` (bring your own labels): rows are pushed one at a time as the
 * request body is parsed (NDJSON or CSV), their strings interned to ints in typed columns (about
 * 12 bytes per row plus each distinct string once), then grouped by item once and aggregated by
 * the chosen method. `run` may be called several times (e.g. two methods) on the same rows; no
 * row can be pushed after the first run.
 *
 * Duplicate (item, worker) rows are kept as given: callers that want one answer per worker per
 * item deduplicate before pushing.
 */
export class StreamingAggregator {
  private builder: CategoricalBuilder | null;
  private built: BuiltAnswers | null = null;

  constructor(options: { expectedRows?: number; labels?: readonly string[] } = {}) {
    this.builder = new CategoricalBuilder(options);
  }

  push(row: AggregateRow): void {
    if (!this.builder) throw new Error('StreamingAggregator: rows cannot be added after run()');
    this.builder.add(row.item, row.worker, row.label, row.gold);
  }

  get rows(): number {
    return this.builder ? this.builder.rows : this.built!.data.worker.length;
  }

  /** Groups the rows (once); the row columns are released. */
  private answers(): BuiltAnswers {
    if (!this.built) {
      this.built = this.builder!.build();
      this.builder = null;
    }
    return this.built;
  }

  /** Counts so far (while rows are pushed, for limits): rows, distinct items, workers and labels. */
  get sizes(): { rows: number; items: number; workers: number; labels: number } {
    if (this.builder) return { rows: this.builder.rows, items: this.builder.items.size, workers: this.builder.workers.size, labels: this.builder.labels.size };
    const { data } = this.built!;
    return { rows: data.worker.length, items: data.nItems, workers: data.nWorkers, labels: data.nLabels };
  }

  run(method: AggregateMethod, options: AggregateRunOptions = {}): AggregateOutcome {
    const fit = this.fit(method, options);
    for (;;) {
      const step = fit.next();
      if (step.done) return step.value;
    }
  }

  /**
   * `run`, awaiting `pause()` between EM iterations (and before and after grouping the rows), so that
   * an HTTP server keeps answering while a large fit runs: no single stretch holds the event loop for
   * longer than one pass over the rows.
   */
  async runAsync(method: AggregateMethod, options: AggregateRunOptions, pause: () => Promise<void>): Promise<AggregateOutcome> {
    const fit = this.fit(method, options);
    for (;;) {
      const step = fit.next();
      if (step.done) return step.value;
      await pause();
    }
  }

  private *fit(method: AggregateMethod, options: AggregateRunOptions): Generator<void, AggregateOutcome> {
    const built = this.answers();
    yield;
    const { data } = built;
    let result: CategoricalResult;
    let iterations: number | undefined;
    let converged: boolean | undefined;
    if (method === 'majority') result = majorityVote(data, options.trust ? { trust: options.trust } : {});
    else if (method === 'accuracy_weighted') result = accuracyWeightedVote(data, options.trust ? { trust: options.trust } : {});
    else {
      const steps = dawidSkeneSteps(data, {
        ...(options.trust ? { trust: options.trust } : {}),
        ...options.dawidSkene,
        ...(method === 'one_coin' ? { minAnswersForConfusion: Infinity } : {}),
      });
      let step = steps.next();
      while (!step.done) {
        yield;
        step = steps.next();
      }
      const ds = step.value;
      iterations = ds.iterations;
      converged = ds.converged;
      result = ds;
    }
    return {
      method,
      rows: data.worker.length,
      items: data.nItems,
      workers: data.nWorkers,
      labels: built.labels,
      goldConflicts: built.goldConflicts,
      duplicateAnswers: countDuplicateAnswers(data),
      ...(iterations !== undefined ? { iterations, converged: converged! } : {}),
      *itemOutcomes() {
        for (let i = 0; i < data.nItems; i++) {
          const l = result.label[i]!;
          const g = data.gold[i]!;
          yield {
            item: built.items[i]!,
            label: l >= 0 ? built.labels[l]! : null,
            confidence: result.confidence[i]!,
            agreement: result.agreement[i]!,
            answers: data.itemStart[i + 1]! - data.itemStart[i]!,
            gold: g >= 0 ? built.labels[g]! : null,
          };
        }
      },
      *workerOutcomes() {
        const answers = new Int32Array(data.nWorkers);
        for (let k = 0; k < data.worker.length; k++) answers[data.worker[k]!]!++;
        for (let w = 0; w < data.nWorkers; w++) {
          yield {
            worker: built.workers[w]!,
            accuracy: result.workerAccuracy[w]!,
            answers: answers[w]!,
            goldTotal: result.goldTotal[w]!,
            goldCorrect: result.goldCorrect[w]!,
            trusted: result.workerTrusted[w] === 1,
          };
        }
      },
    };
  }
}

/** Repeated (item, worker) pairs, in one pass: the last item each worker was seen on. */
function countDuplicateAnswers(data: CategoricalAnswers): number {
  const lastItem = new Int32Array(data.nWorkers).fill(-1);
  let duplicates = 0;
  for (let i = 0; i < data.nItems; i++) {
    for (let k = data.itemStart[i]!; k < data.itemStart[i + 1]!; k++) {
      const w = data.worker[k]!;
      if (lastItem[w] === i) duplicates++;
      else lastItem[w] = i;
    }
  }
  return duplicates;
}
