import { describe, expect, test } from 'vitest';
import { isTransientDbError } from '@fairlabel/db';
import { GroupCommit } from '../src/group-commit.js';

// Pure logic (no database, no Redis): how GroupCommit cuts items into flushes, how many it runs at once,
// and what it does when a flush fails.

/** A flush that records its items and waits until the test lets it finish. */
function gatedFlush<T>() {
  const flushes: { items: T[]; finish: (err?: unknown) => void }[] = [];
  const flush = (items: T[]) =>
    new Promise<void>((resolve, reject) => flushes.push({ items, finish: (err) => (err ? reject(err) : resolve()) }));
  return { flushes, flush };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  test('with one flush in flight, items handed in meanwhile wait and go together in the next', async () => {
    const { flushes, flush } = gatedFlush<number>();
    const gc = new GroupCommit(flush, { maxBatch: 3 });
    const done = [gc.add(1)];
    await tick();
    done.push(gc.add(2), gc.add(3), gc.add(4), gc.add(5));
    await tick();
    expect(flushes.map((f) => f.items)).toEqual([[1]]);
    flushes[0]!.finish();
    await tick();
    expect(flushes.map((f) => f.items)).toEqual([[1], [2, 3, 4]]);
    flushes[1]!.finish();
    await tick();
    flushes[2]!.finish();
    await Promise.all(done);
    expect(flushes.map((f) => f.items)).toEqual([[1], [2, 3, 4], [5]]);
  });

  test('with two in flight, a second flush starts only with a full batch, and never a third', async () => {
    const { flushes, flush } = gatedFlush<number>();
    const gc = new GroupCommit(flush, { maxBatch: 2, inFlight: 2 });
    const done = [gc.add(1)];
    await tick();
    done.push(gc.add(2));
    await tick();
    // One item waiting is not a full batch: it waits for the running flush.
    expect(flushes).toHaveLength(1);
    expect(gc.pending).toBe(1);
    done.push(gc.add(3), gc.add(4), gc.add(5), gc.add(6));
    await tick();
    expect(flushes.map((f) => f.items)).toEqual([[1], [2, 3]]);
    expect(gc.flushing).toBe(2);
    expect(gc.pending).toBe(3);
    flushes[1]!.finish();
    await tick();
    expect(flushes.map((f) => f.items)).toEqual([[1], [2, 3], [4, 5]]);
    flushes[0]!.finish();
    await tick();
    // Nothing else running would not matter: 6 alone is not a full batch while [4, 5] runs.
    expect(flushes).toHaveLength(3);
    flushes[2]!.finish();
    await tick();
    expect(flushes.map((f) => f.items)).toEqual([[1], [2, 3], [4, 5], [6]]);
    flushes[3]!.finish();
    await Promise.all(done);
  });

  test('a batch failing with a transient error runs again whole; any other error splits it so a bad item fails alone', async () => {
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const calls: number[][] = [];
    let failNext = 1;
    const gc = new GroupCommit<number>(
      async (items) => {
        calls.push(items);
        if (failNext-- > 0) throw deadlock;
        if (items.includes(13)) throw new Error('bad item');
      },
      { maxBatch: 10, transient: isTransientDbError },
    );
    await Promise.all([gc.add(1), gc.add(2)]);
    expect(calls).toEqual([[1, 2], [1, 2]]);

    calls.length = 0;
    const results = await Promise.allSettled([gc.add(12), gc.add(13), gc.add(14)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  test('a transient error that persists still splits the batch, and a single item fails with it', async () => {
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    let calls = 0;
    const gc = new GroupCommit<number>(async () => {
      calls++;
      throw deadlock;
    }, { transient: isTransientDbError });
    await expect(gc.add(1)).rejects.toBe(deadlock);
    expect(calls).toBe(2);
  });

  test('isTransientDbError knows deadlocks and serialization failures only', () => {
    expect(isTransientDbError(Object.assign(new Error(), { code: '40P01' }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error(), { code: '40001' }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error(), { code: '23505' }))).toBe(false);
    expect(isTransientDbError(null)).toBe(false);
  });
});
