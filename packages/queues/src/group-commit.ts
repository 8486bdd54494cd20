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
  private running = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Started after the current tick: the events of a batch job, handed in one after another in the
        // same tick, go into one flush instead of the first one going alone.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  /** Items waiting for a flush (for metrics and tests). */
  get pending(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          await this.flush(batch.map((b) => b.item));
          for (const b of batch) b.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
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
    } finally {
      this.running = false;
    }
  }
}
