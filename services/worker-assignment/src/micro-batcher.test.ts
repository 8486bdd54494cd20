import { describe, expect, it } from 'vitest';
import { eachOrAlone, MicroBatcher, reportedByServer, type Outcome } from './micro-batcher.js';

/** A batch runner that records each batch and answers from the caller's promise. */
function recorder() {
  const batches: number[][] = [];
  const pending: (() => void)[] = [];
  const run = async (requests: number[]): Promise<Outcome<number>[]> => {
    batches.push(requests);
    await new Promise<void>((resolve) => pending.push(resolve));
    return requests.map((n) => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: n * 10 }));
  };
  /** Lets every batch sent so far return. */
  const release = () => pending.splice(0).forEach((r) => r());
  return { batches, run, release };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  it('sends the calls of one event-loop turn together, and each gets its own answer', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, { maxBatch: 64, maxInFlight: 2, windowMs: 0 });
    const answers = Promise.all([1, 2, 3].map((n) => b.add(n)));
    await tick();
    r.release();
    expect(await answers).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);
  });

  it('gathers calls while maxInFlight batches run, and sends them when one returns', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, { maxBatch: 64, maxInFlight: 1, windowMs: 0 });
    const first = b.add(1);
    await tick();
    const later = [2, 3, 4].map((n) => b.add(n));
    await tick();
    await tick();
    expect(r.batches).toEqual([[1]]);
    r.release();
    expect(await first).toBe(10);
    await tick();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    r.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('never sends more than maxBatch calls in one batch', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, { maxBatch: 2, maxInFlight: 4, windowMs: 0 });
    const answers = Promise.all([1, 2, 3, 4, 5].map((n) => b.add(n)));
    await tick();
    r.release();
    await tick();
    r.release();
    expect(await answers).toEqual([10, 20, 30, 40, 50]);
    expect(r.batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("one call's error is that call's alone; a batch that throws fails its own calls only", async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, { maxBatch: 64, maxInFlight: 2, windowMs: 0 });
    const settled = Promise.allSettled([1, -2, 3].map((n) => b.add(n)));
    await tick();
    r.release();
    expect((await settled).map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, 'bad -2', 30]);

    let calls = 0;
    const throwing = new MicroBatcher<number, number>(
      async (requests) => {
        if (calls++ === 0) throw new Error('down');
        return requests.map((n) => ({ ok: true, value: n }));
      },
      { maxBatch: 64, maxInFlight: 1, windowMs: 0 },
    );
    const failed = Promise.allSettled([1, 2].map((n) => throwing.add(n)));
    expect((await failed).map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(await throwing.add(7)).toBe(7);
  });

  it('waits windowMs for more calls when a window is set', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, { maxBatch: 64, maxInFlight: 2, windowMs: 5 });
    const first = b.add(1);
    await tick();
    const second = b.add(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.release();
    expect(await Promise.all([first, second])).toEqual([10, 20]);
    expect(r.batches).toEqual([[1, 2]]);
  });
});

describe('eachOrAlone', () => {
  const serverError = Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02', severity: 'ERROR' });

  it('runs the batch together when Postgres takes it', async () => {
    const alone: number[] = [];
    const out = await eachOrAlone(
      [1, 2],
      async (all) => all.map((n) => n * 2),
      async (n) => {
        alone.push(n);
        return n;
      },
    );
    expect(out).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 4 },
    ]);
    expect(alone).toEqual([]);
  });

  it('when Postgres refuses the batch, runs each alone: only the failing one fails', async () => {
    const out = await eachOrAlone(
      [1, 2, 3],
      async () => {
        throw serverError;
      },
      async (n) => {
        if (n === 2) throw serverError;
        return n;
      },
    );
    expect(out).toEqual([{ ok: true, value: 1 }, { ok: false, error: serverError }, { ok: true, value: 3 }]);
  });

  it('does not re-run a batch that failed without a server error (it may have committed)', async () => {
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    expect(reportedByServer(lost)).toBe(false);
    expect(reportedByServer(serverError)).toBe(true);
    await expect(
      eachOrAlone(
        [1, 2],
        async () => {
          throw lost;
        },
        async (n) => n,
      ),
    ).rejects.toBe(lost);
  });
});
