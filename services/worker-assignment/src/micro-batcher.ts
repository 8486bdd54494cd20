/**
 * Group commit for a hot-path statement: calls that arrive together go to Postgres as one call.
 *
 * A call is queued; the queue is flushed `windowMs` after the first call reaches it (0: on the next
 * turn of the event loop, so every call that arrived in the same I/O poll goes together), at once when
 * it holds `maxBatch` calls, and — while `maxInFlight` batches are already running — as soon as one of
 * them returns. So at low load a call waits at most the window; under load calls gather while the
 * database works on the previous batch, and the batch size follows the load without a timer.
 *
 * `run` gets the requests in arrival order and returns one outcome per request, in the same order:
 * either a value or an error of that request alone. If `run` itself throws, every call of the batch
 * gets that error.
 */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface MicroBatcherOptions {
  maxBatch: number;
  maxInFlight: number;
  windowMs: number;
}

interface Pending<Q, R> {
  request: Q;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class MicroBatcher<Q, R> {
  private queue: Pending<Q, R>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (requests: Q[]) => Promise<Outcome<R>[]>,
    private readonly options: MicroBatcherOptions,
  ) {}

  add(request: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    const fire = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.options.windowMs > 0) setTimeout(fire, this.options.windowMs);
    else setImmediate(fire);
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.send(batch);
    }
  }

  private async send(batch: Pending<Q, R>[]): Promise<void> {
    try {
      const outcomes = await this.run(batch.map((p) => p.request));
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (!o) p.reject(new Error(`batch returned ${outcomes.length} outcomes for ${batch.length} requests`));
        else if (o.ok) p.resolve(o.value);
        else p.reject(o.error);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      // What gathered while this batch ran goes now, without waiting for a window.
      this.flush();
    }
  }
}

/**
 * Whether Postgres reported the error (an SQLSTATE and a severity): the statement failed on the
 * server, so in autocommit its transaction rolled back and nothing of it was committed — safe to run
 * its requests again one by one. A connection error is not: the batch may have committed.
 */
export function reportedByServer(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

/**
 * The outcomes of a batch run as one statement by `together`; when Postgres refuses that statement
 * (an error of one request, a deadlock between two batches), each request runs `alone` instead, so
 * one request's error is that request's alone and the others get what they would have got.
 */
export async function eachOrAlone<Q, R>(requests: Q[], together: (requests: Q[]) => Promise<R[]>, alone: (request: Q) => Promise<R>): Promise<Outcome<R>[]> {
  if (requests.length > 1) {
    try {
      return (await together(requests)).map((value) => ({ ok: true, value }));
    } catch (err) {
      if (!reportedByServer(err)) throw err;
    }
  }
  // One after another, in arrival order, as they would have run one by one: the first to ask is
  // served first (a claim batch would otherwise hand out tasks in whatever order the pool answers).
  // This path runs only when a batch held a request Postgres refused, so its latency is rare.
  const outcomes: Outcome<R>[] = [];
  for (const request of requests) {
    try {
      outcomes.push({ ok: true, value: await alone(request) });
    } catch (error) {
      outcomes.push({ ok: false, error: error as unknown });
    }
  }
  return outcomes;
}

/** One batcher per key (a connection pool), made on first use; the pools of other processes' stacks or of tests stay apart. */
export function batcherPer<K extends object, D, Q, R>(keyOf: (deps: D) => K, make: (deps: D) => MicroBatcher<Q, R>): (deps: D) => MicroBatcher<Q, R> {
  const batchers = new WeakMap<K, MicroBatcher<Q, R>>();
  return (deps) => {
    const key = keyOf(deps);
    let b = batchers.get(key);
    if (!b) {
      b = make(deps);
      batchers.set(key, b);
    }
    return b;
  };
}
