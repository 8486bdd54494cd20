import { LRUCache } from 'lru-cache';
import type { Clock } from '@fairlabel/runtime';

/** A bounded LRU whose TTL runs on `clock`. */
function clockedLru(opts: { max: number; ttlMs: number }, clock: Clock) {
  return {
    max: opts.max,
    ttl: opts.ttlMs,
    perf: { now: () => clock.now().getTime() },
    // Read the clock on every check (the default caches it for a millisecond).
    ttlResolution: 0,
  };
}

/**
 * The one kind of in-process cache worker-assignment keeps: a bounded LRU (the least recently used
 * entry goes when it is full, never the whole cache) whose entries also expire after a TTL measured on
 * the deps' clock, so a test that moves the clock sees them expire as production would.
 *
 * Entries are kept per scope — the database (or Redis) handle they were read from — so two databases
 * in one process (test files, a bench) never share an entry, and inside a scope the key names every
 * id that identifies the entry (`cacheKey(assignmentId, workerId)`).
 */
export class ProcessCache<V extends NonNullable<unknown>> {
  private readonly scopes = new WeakMap<object, LRUCache<string, V>>();

  constructor(private readonly opts: { max: number; ttlMs: number }) {}

  /** The cache of one scope, created on first use with that scope's clock. */
  in(scope: object, clock: Clock): LRUCache<string, V> {
    let cache = this.scopes.get(scope);
    if (!cache) {
      cache = new LRUCache<string, V>(clockedLru(this.opts, clock));
      this.scopes.set(scope, cache);
    }
    return cache;
  }

  /** The cache of a scope if it has one, without creating it (to drop an entry). */
  existing(scope: object): LRUCache<string, V> | undefined {
    return this.scopes.get(scope);
  }
}

/** A key made of every id that identifies an entry. */
export const cacheKey = (...parts: (string | number)[]): string => parts.join('|');

/**
 * A ProcessCache whose entries are read through `load` and kept fresh in the background: callers that
 * miss at the same moment share one load, and once an entry's TTL has passed the stale value is still
 * returned while a single reload runs (lru-cache's stale-while-revalidate). A plain TTL cache on a hot
 * path lets every caller that arrives after the expiry run the same query at once: measured on the
 * claim (bench/claim open loop, 2026-11-29), each expiry of a job's median time made ~20 concurrent
 * claims run the median query, hold the pool's connections and wait 40–90 ms, the slowest percent of
 * all claims. A failed reload keeps the stale value (logged by the caller's `load`); a failed first
 * load rejects that fetch, so its callers see the error, as a direct query would give them.
 */
export class RefreshingCache<S extends object, V extends NonNullable<unknown>> {
  private readonly scopes = new WeakMap<S, LRUCache<string, V>>();

  constructor(private readonly opts: { max: number; ttlMs: number; load: (scope: S, key: string) => Promise<V> }) {}

  /** The entry for `key` in `scope`: fresh, stale while one reload runs, or loaded now (once for every caller waiting). */
  async get(scope: S, clock: Clock, key: string): Promise<V> {
    let cache = this.scopes.get(scope);
    if (!cache) {
      cache = new LRUCache<string, V>({
        ...clockedLru(this.opts, clock),
        allowStale: true,
        fetchMethod: async (k, stale) => {
          try {
            return await this.opts.load(scope, k);
          } catch (err) {
            if (stale !== undefined) return stale;
            throw err;
          }
        },
      });
      this.scopes.set(scope, cache);
    }
    const value = await cache.fetch(key);
    if (value === undefined) throw new Error(`RefreshingCache: no value for ${key}`);
    return value;
  }
}
