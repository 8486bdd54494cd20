import { LRUCache } from 'lru-cache';
import type { Clock } from '@fairlabel/runtime';

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
      cache = new LRUCache<string, V>({
        max: this.opts.max,
        ttl: this.opts.ttlMs,
        perf: { now: () => clock.now().getTime() },
        // Read the clock on every check (the default caches it for a millisecond).
        ttlResolution: 0,
      });
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
