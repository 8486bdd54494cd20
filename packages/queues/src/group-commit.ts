export interface GroupCommitOptions {
  /** Items per flush (one database transaction). */
  maxBatch?: number;
  /**
   * Flushes running at once (default 1). With 2, a full batch that waits starts while the previous
   * flush is still running, on another connection: worth it when a flush's transaction does part of
   * its work before it waits for a lock that serializes the writers (settlement records its decisions
   * before it takes the ledger lock), so that part overlaps the other flush's turn. A second flush
   * starts only with a full batch: a trickle of items still goes one flush at a time, as with 1.
   */
  inFlight?: number;
  /**
   * Whether a failed flush's error is transient (a deadlock, a serialization failure): the whole batch
   * is then flushed again once before it is split into single items. Two flushes in flight can
   * deadlock each other, rarely (both creating the same new account, one of them under the lock); the
   * database resolves it by failing one, which succeeds when run again (settlement passes
   * isTransientDbError of @fairlabel/db).
   */
  transient?: (err: unknown) => boolean;
}

/**
 * Group commit: items handed in while a flush is running wait for the next flush, which takes all of
 * them (up to `maxBatch`) in one database transaction. Under load a flush carries hundreds of events
 * (settlement: one ledger lock, one set-based statement per event type, one commit; QA: one decision
 * pass over the batch's submissions); when idle an item is flushed
 * at once (with the others handed in during the same tick: a batch job's events), with no timer
 * adding latency. Each caller's promise settles with its own item's
 * outcome: when a batch fails, its items are retried one by one, so one bad event fails alone and
 * the others commit.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  private starting = false;
  private readonly maxBatch: number;
  private readonly inFlight: number;
  private readonly transient: (err: unknown) => boolean;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    options: number | GroupCommitOptions = {},
  ) {
    const o = typeof options === 'number' ? { maxBatch: options } : options;
    this.maxBatch = o.maxBatch ?? 500;
    this.inFlight = o.inFlight ?? 1;
    this.transient = o.transient ?? (() => false);
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.starting) {
        this.starting = true;
        // Started after the current tick: the events of a batch job, handed in one after another in the
        // same tick, go into one flush instead of the first one going alone.
        queueMicrotask(() => {
          this.starting = false;
          this.start();
        });
      }
    });
  }

  /** Items waiting for a flush (for metrics and tests). */
  get pending(): number {
    return this.queue.length;
  }

  /** Flushes running now (for tests). */
  get flushing(): number {
    return this.running;
  }

  private start(): void {
    while (this.queue.length > 0 && this.running < this.inFlight && (this.running === 0 || this.queue.length >= this.maxBatch)) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.start();
      });
    }
  }

  private async run(batch: { item: T; resolve: () => void; reject: (err: unknown) => void }[]): Promise<void> {
    const items = batch.map((b) => b.item);
    let failure: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.flush(items);
        for (const b of batch) b.resolve();
        return;
      } catch (err) {
        failure = err;
        if (!this.transient(err)) break;
      }
    }
    if (batch.length === 1) {
      batch[0]!.reject(failure);
      return;
    }
    for (const b of batch) {
      try {
        await this.flush([b.item]);
        b.resolve();
      } catch (single) {
        b.reject(single);
      }
    }
  }
}
