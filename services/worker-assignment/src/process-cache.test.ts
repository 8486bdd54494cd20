import { describe, expect, it, vi } from 'vitest';
import { cacheKey, ProcessCache, RefreshingCache } from './process-cache.js';

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

describe('RefreshingCache', () => {
  /** A loader that counts its calls and answers when released, so a test controls what is in flight. */
  function gatedLoader() {
    const calls: string[] = [];
    let release: (() => void) | null = null;
    let fail = false;
    const load = async (_scope: object, key: string) => {
      calls.push(key);
      await new Promise<void>((r) => (release = r));
      if (fail) throw new Error('database down');
      return { value: `${key}#${calls.length}` };
    };
    return {
      calls,
      load,
      release: async () => {
        while (!release) await new Promise((r) => setImmediate(r));
        const r = release as () => void;
        release = null;
        r();
      },
      failNext: () => (fail = true),
    };
  }

  it('runs one load for every caller that misses at the same time', async () => {
    const clock = new Clock();
    const loader = gatedLoader();
    const cache = new RefreshingCache<object, { value: string }>({ max: 10, ttlMs: 1000, load: loader.load });
    const scope = {};
    const waiting = Promise.all(Array.from({ length: 20 }, () => cache.get(scope, clock, 'job')));
    await loader.release();
    expect((await waiting).map((v) => v.value)).toEqual(Array(20).fill('job#1'));
    expect(loader.calls).toEqual(['job']);
  });

  /** A cache holding 'job#1' for 'job', just past its TTL. */
  async function expiredCache() {
    const clock = new Clock();
    const loader = gatedLoader();
    const cache = new RefreshingCache<object, { value: string }>({ max: 10, ttlMs: 1000, load: loader.load });
    const scope = {};
    const first = cache.get(scope, clock, 'job');
    await loader.release();
    expect((await first).value).toBe('job#1');
    clock.t += 1001;
    return { clock, loader, cache, scope };
  }

  it('after the TTL returns the stale value at once while one reload runs, then the new one', async () => {
    const { clock, loader, cache, scope } = await expiredCache();
    // Nobody waits for the reload: every caller gets the stale value now, and only one reload starts.
    const stale = await Promise.all(Array.from({ length: 20 }, () => cache.get(scope, clock, 'job')));
    expect(stale.map((v) => v.value)).toEqual(Array(20).fill('job#1'));
    expect(loader.calls).toEqual(['job', 'job']);
    await loader.release();
    await vi.waitFor(async () => expect((await cache.get(scope, clock, 'job')).value).toBe('job#2'));
    expect(loader.calls).toHaveLength(2);
  });

  it('keeps the stale value when a reload fails, and rejects a first load that fails', async () => {
    const { clock, loader, cache, scope } = await expiredCache();
    loader.failNext();
    expect((await cache.get(scope, clock, 'job')).value).toBe('job#1');
    await loader.release();
    await new Promise((r) => setImmediate(r));
    expect((await cache.get(scope, clock, 'job')).value).toBe('job#1');
    const other = cache.get(scope, clock, 'other-job');
    await loader.release();
    await expect(other).rejects.toThrow('database down');
  });

  it('keeps one cache per scope', async () => {
    const clock = new Clock();
    const loader = gatedLoader();
    const cache = new RefreshingCache<object, { value: string }>({ max: 10, ttlMs: 1000, load: loader.load });
    const a = cache.get({}, clock, 'job');
    await loader.release();
    const b = cache.get({}, clock, 'job');
    await loader.release();
    expect([(await a).value, (await b).value]).toEqual(['job#1', 'job#2']);
  });
});
