import { describe, expect, it } from 'vitest';
import { syntheticJob } from '../aggregate/synthetic.js';
import { StreamingAggregator } from './aggregator.js';

describe('StreamingAggregator', () => {
  it('aggregates pushed rows with each method and reports items and workers', () => {
    const job = syntheticJob({
      seed: 99,
      items: 500,
      labels: 3,
      goldShare: 0.1,
      workers: [{ kind: 'accurate', accuracy: 0.9 }, { kind: 'accurate', accuracy: 0.8 }, { kind: 'random' }, { kind: 'accurate', accuracy: 0.7 }],
    });
    const agg = new StreamingAggregator({ expectedRows: 16 });
    for (const row of job.rows) agg.push(row);
    expect(agg.rows).toBe(job.rows.length);
    for (const method of ['majority', 'accuracy_weighted', 'one_coin', 'dawid_skene'] as const) {
      const out = agg.run(method);
      expect(out).toMatchObject({ method, items: 500, workers: 4, rows: job.rows.length });
      const items = [...out.itemOutcomes()];
      expect(items).toHaveLength(500);
      expect(items[0]!.item).toBe('item-0');
      let right = 0;
      for (const it of items) {
        expect(it.confidence).toBeGreaterThanOrEqual(0);
        expect(it.confidence).toBeLessThanOrEqual(1);
        if (it.label === job.truth.get(it.item)) right++;
      }
      // Gold items are decided by their gold answer, with full confidence.
      const gold = items.filter((it) => it.gold);
      expect(gold.length).toBeGreaterThan(0);
      expect(gold.filter((it) => it.label !== it.gold || it.confidence !== 1)).toEqual([]);
      expect(right / items.length).toBeGreaterThan(0.85);
      const workers = new Map([...out.workerOutcomes()].map((w) => [w.worker, w]));
      expect(workers.get('w0')!.accuracy).toBeGreaterThan(workers.get('w2')!.accuracy);
      expect(workers.get('w2')!.trusted).toBe(false);
      expect(workers.get('w0')!.answers).toBe(500);
    }
    expect(() => agg.push({ item: 'x', worker: 'y', label: 'L0' })).toThrow(/after run/);
  });

  it('counts conflicting gold and handles no rows', () => {
    const agg = new StreamingAggregator();
    agg.push({ item: 'a', worker: 'w', label: 'x', gold: 'x' });
    agg.push({ item: 'a', worker: 'v', label: 'x', gold: 'y' });
    expect(agg.run('majority').goldConflicts).toBe(1);
    const empty = new StreamingAggregator().run('dawid_skene');
    expect([...empty.itemOutcomes()]).toEqual([]);
  });

  it('runAsync gives what run gives, pausing between EM iterations; one_coin is Dawid–Skene without confusion matrices', async () => {
    const job = syntheticJob({ seed: 7, items: 300, labels: 4, goldShare: 0.1, workers: [{ kind: 'accurate', accuracy: 0.85 }, { kind: 'accurate', accuracy: 0.7 }, { kind: 'random' }] });
    for (const method of ['majority', 'one_coin', 'dawid_skene'] as const) {
      const sync = new StreamingAggregator();
      const async = new StreamingAggregator();
      for (const row of job.rows) {
        sync.push(row);
        async.push(row);
      }
      expect(async.sizes).toEqual({ rows: job.rows.length, items: 300, workers: 3, labels: 4 });
      let pauses = 0;
      const a = await async.runAsync(method, {}, async () => {
        pauses++;
      });
      const s = sync.run(method);
      expect([...a.itemOutcomes()]).toEqual([...s.itemOutcomes()]);
      expect([...a.workerOutcomes()]).toEqual([...s.workerOutcomes()]);
      // One pause after grouping the rows, one per EM iteration.
      expect(pauses).toBe(1 + (s.iterations ?? 0));
      expect(s.iterations).toEqual(method === 'majority' ? undefined : expect.any(Number));
    }
  });
});

