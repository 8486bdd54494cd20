/**
 * Categorical answers in a columnar, interned form shared by every truth-inference method: items,
 * workers and labels are dense ints, answers are grouped by item (CSR), and nothing in a hot loop
 * allocates. Build it with CategoricalBuilder (strings in, one row at a time) or directly.
 */
export interface CategoricalAnswers {
  nItems: number;
  nWorkers: number;
  nLabels: number;
  /** Answers of item i are at [itemStart[i], itemStart[i + 1]). Length nItems + 1. */
  itemStart: Int32Array;
  /** Per answer: worker index. */
  worker: Int32Array;
  /** Per answer: label index. */
  label: Int32Array;
  /** Per item: the gold label index, or -1. */
  gold: Int32Array;
}

/** What every categorical method returns, per item and per worker (indices as in the input). */
export interface CategoricalResult {
  method: 'majority' | 'accuracy_weighted' | 'dawid_skene';
  /** Per item: decided label index, or -1 for an item with no (trusted) answers. */
  label: Int32Array;
  /**
   * Per item, in [0, 1]: the posterior probability of the decided label for the weighted vote and
   * Dawid–Skene; the share of votes it got for majority vote. 1 for gold items.
   */
  confidence: Float64Array;
  /** Per item: share of its answers that equal the decided label (0 with no answers). */
  agreement: Float64Array;
  /** Per worker: estimated accuracy in [0, 1] (gold first, agreement second; see each method). */
  workerAccuracy: Float64Array;
  /** Per worker: 0 when gold evidence excluded them from the vote (see TrustOptions). */
  workerTrusted: Uint8Array;
  /** Per worker: gold answers and how many were correct. */
  goldTotal: Int32Array;
  goldCorrect: Int32Array;
}

/** Maps strings to dense ints in first-seen order. */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.ids.set(value, id);
      this.values.push(value);
    }
    return id;
  }
  get(value: string): number | undefined {
    return this.ids.get(value);
  }
  get size(): number {
    return this.values.length;
  }
}

/** An Int32Array that doubles when full: amortized O(1) push, 4 bytes a value. */
export class GrowableInt32 {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Sets index i, growing (filled with `fill`) as needed. */
  set(i: number, v: number, fill = -1): void {
    if (i >= this.data.length) {
      let cap = this.data.length;
      while (cap <= i) cap *= 2;
      const next = new Int32Array(cap).fill(fill);
      next.set(this.data);
      this.data = next;
    }
    if (i >= this.length) {
      this.data.fill(fill, this.length, i);
      this.length = i + 1;
    }
    this.data[i] = v;
  }
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

export interface BuiltAnswers {
  data: CategoricalAnswers;
  items: readonly string[];
  workers: readonly string[];
  labels: readonly string[];
  /** Items whose gold was given twice with different labels (the first one is kept). */
  goldConflicts: number;
}

/**
 * Collects (item, worker, label[, gold]) rows one at a time in typed columns, then groups them by
 * item with a counting sort. Memory: three int columns of 4 bytes per row plus the interned strings.
 * `labels` fixes the label order up front (e.g. a control's choices), others are added as seen.
 */
export class CategoricalBuilder {
  readonly items = new Interner();
  readonly workers = new Interner();
  readonly labels = new Interner();
  private readonly rowItem: GrowableInt32;
  private readonly rowWorker: GrowableInt32;
  private readonly rowLabel: GrowableInt32;
  private readonly goldOf = new GrowableInt32(1024);
  private goldConflicts = 0;

  constructor(options: { expectedRows?: number; labels?: readonly string[] } = {}) {
    const cap = options.expectedRows ?? 1024;
    this.rowItem = new GrowableInt32(cap);
    this.rowWorker = new GrowableInt32(cap);
    this.rowLabel = new GrowableInt32(cap);
    for (const l of options.labels ?? []) this.labels.id(l);
  }

  get rows(): number {
    return this.rowItem.length;
  }

  add(item: string, worker: string, label: string, gold?: string | null): void {
    const i = this.items.id(item);
    this.rowItem.push(i);
    this.rowWorker.push(this.workers.id(worker));
    this.rowLabel.push(this.labels.id(label));
    if (gold !== undefined && gold !== null && gold !== '') this.setGold(item, gold);
  }

  setGold(item: string, gold: string): void {
    const i = this.items.id(item);
    const g = this.labels.id(gold);
    const current = i < this.goldOf.length ? this.goldOf.data[i]! : -1;
    if (current === -1) this.goldOf.set(i, g);
    else if (current !== g) this.goldConflicts++;
  }

  build(): BuiltAnswers {
    const nItems = this.items.size;
    const n = this.rowItem.length;
    const itemCol = this.rowItem.view();
    const itemStart = new Int32Array(nItems + 1);
    for (let r = 0; r < n; r++) itemStart[itemCol[r]! + 1]!++;
    for (let i = 0; i < nItems; i++) itemStart[i + 1]! += itemStart[i]!;
    const fill = itemStart.slice(0, nItems);
    const worker = new Int32Array(n);
    const label = new Int32Array(n);
    const w = this.rowWorker.view();
    const l = this.rowLabel.view();
    for (let r = 0; r < n; r++) {
      const at = fill[itemCol[r]!]!++;
      worker[at] = w[r]!;
      label[at] = l[r]!;
    }
    const gold = new Int32Array(nItems).fill(-1);
    gold.set(this.goldOf.view().subarray(0, Math.min(nItems, this.goldOf.length)));
    return {
      data: { nItems, nWorkers: this.workers.size, nLabels: this.labels.size, itemStart, worker, label, gold },
      items: this.items.values,
      workers: this.workers.values,
      labels: this.labels.values,
      goldConflicts: this.goldConflicts,
    };
  }
}

/** Convenience for tests and small jobs: rows as objects. */
export function categoricalFromRows(rows: Iterable<{ item: string; worker: string; label: string; gold?: string | null }>, labels?: readonly string[]): BuiltAnswers {
  const b = new CategoricalBuilder(labels ? { labels } : {});
  for (const r of rows) b.add(r.item, r.worker, r.label, r.gold);
  return b.build();
}
