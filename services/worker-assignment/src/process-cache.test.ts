import { describe, expect, it } from 'vitest';
import { cacheKey, ProcessCache } from './process-cache.js';

class Clock {
  t = 1_000_000;
  now() {
    return new Date(this.t);
  }
}

describe('ProcessCache', () => {
  it('drops the least recently used entry when full, never the whole cache', () => {
    const clock = new Clock();
    const cache = new ProcessCache<string>({ max: 3, ttlMs: 60_000 }).in({}, clock);
    for (const k of ['a', 'b', 'c']) cache.set(k, k.toUpperCase());
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('d', 'D');
    expect([...cache.keys()].sort()).toEqual(['a', 'c', 'd']);
  });

  it('expires entries after the TTL on the given clock', () => {
    const clock = new Clock();
    const cache = new ProcessCache<string>({ max: 10, ttlMs: 1000 }).in({}, clock);
    cache.set('k', 'v');
    clock.t += 999;
    expect(cache.get('k')).toBe('v');
    clock.t += 2;
    expect(cache.get('k')).toBeUndefined();
  });

  it('keeps one cache per scope (database or Redis handle), so two handles never share an entry', () => {
    const clock = new Clock();
    const caches = new ProcessCache<string>({ max: 10, ttlMs: 1000 });
    const dbA = {};
    const dbB = {};
    caches.in(dbA, clock).set(cacheKey(1, 'worker-1'), 'facts of A');
    expect(caches.in(dbB, clock).get(cacheKey(1, 'worker-1'))).toBeUndefined();
    expect(caches.in(dbA, clock).get(cacheKey(1, 'worker-2'))).toBeUndefined();
    expect(caches.existing(dbA)?.get(cacheKey(1, 'worker-1'))).toBe('facts of A');
    expect(caches.existing({})).toBeUndefined();
  });
});
