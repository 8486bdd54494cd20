import { describe, expect, it } from 'vitest';
import { seededRandom } from '../util/rng.js';
import { categoricalFromRows } from './categorical.js';
import { dawidSkene } from './dawid-skene.js';
import { createDsState, dsStateFromBatch, observeItem, refreshItems, warmStartFromState, type DsItemRecord, type DsState } from './incremental-ds.js';
import { syntheticJob } from './synthetic.js';
import { majorityVote } from './vote.js';

function shuffled<T>(list: T[], seed: number): T[] {
  const rnd = seededRandom(seed);
  const out = [...list];
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [out[k], out[j]] = [out[j]!, out[k]!];
  }
  return out;
}

describe('incremental Dawid–Skene', () => {
  const job = syntheticJob({
    seed: 11,
    items: 1500,
    labels: 4,
    goldShare: 0.05,
    workers: [{ kind: 'accurate', accuracy: 0.85 }, { kind: 'accurate', accuracy: 0.85 }, { kind: 'random' }, { kind: 'random' }, { kind: 'random' }],
  });

  it('answers arriving one at a time, persisted as JSON between submissions, reach the batch result after a refresh', () => {
    let stateJson = JSON.stringify(createDsState(job.labels));
    const records = new Map<string, DsItemRecord>();
    const decidedAtCompletion = new Map<string, string>();
    const answersPerItem = new Map<string, number>();
    for (const r of job.rows) answersPerItem.set(r.item, (answersPerItem.get(r.item) ?? 0) + 1);
    // Submissions interleave across items, as workers progress through a job.
    for (const row of shuffled(job.rows, 5)) {
      const state = JSON.parse(stateJson) as DsState;
      const prev = records.get(row.item) ?? { answers: [], gold: row.gold ?? null };
      const d = observeItem(state, { ...prev, answers: [...prev.answers, { worker: row.worker, label: row.label }] });
      records.set(row.item, JSON.parse(JSON.stringify(d.record)) as DsItemRecord);
      if (d.record.answers.length === answersPerItem.get(row.item)) decidedAtCompletion.set(row.item, d.label);
      stateJson = JSON.stringify(state);
    }
    const state = JSON.parse(stateJson) as DsState;
    const items = [...records.keys()];
    const refreshed = refreshItems(state, items.map((i) => records.get(i)!), { sweeps: 5 });

    const built = categoricalFromRows(job.rows, job.labels);
    const batch = dawidSkene(built.data);
    // Plain majority vote, without gold-based trust (with it, the random workers are already excluded).
    const mv = majorityVote(built.data, { trust: { untrustedBelow: 0 } });
    const accOf = (label: (item: string, i: number) => string | undefined) => {
      let right = 0;
      let n = 0;
      built.items.forEach((item, i) => {
        if (built.data.gold[i]! >= 0) return;
        n++;
        if (label(item, i) === job.truth.get(item)) right++;
      });
      return right / n;
    };
    const byItem = new Map(items.map((item, k) => [item, refreshed[k]!.label]));
    const accOnline = accOf((item) => decidedAtCompletion.get(item));
    const accRefreshed = accOf((item) => byItem.get(item));
    const accBatch = accOf((_, i) => built.labels[batch.label[i]!]);
    const accMv = accOf((_, i) => built.labels[mv.label[i]!]);
    console.log(`incremental DS: at completion ${accOnline.toFixed(4)}, after 5 refresh sweeps ${accRefreshed.toFixed(4)}, batch ${accBatch.toFixed(4)}, plain majority ${accMv.toFixed(4)}; state JSON ${stateJson.length} bytes`);
    expect(accRefreshed).toBeGreaterThan(accBatch - 0.01);
    expect(accOnline).toBeGreaterThan(accMv + 0.05);
    // The state is small: K² numbers per worker, not per item.
    expect(stateJson.length).toBeLessThan(10_000);
    // The sums stay consistent: class counts add up to the number of items.
    expect(state.classCounts.reduce((s, x) => s + x, 0)).toBeCloseTo(items.length, 6);
  });

  it('re-observing an item with the same answers changes nothing; a new answer replaces its old share', () => {
    const state = createDsState(['a', 'b']);
    const first = observeItem(state, { answers: [{ worker: 'w1', label: 'a' }] });
    const snapshot = JSON.stringify(state);
    const again = observeItem(state, first.record);
    expect(JSON.stringify(state)).toBe(snapshot);
    expect(again.posterior).toEqual(first.posterior);
    const second = observeItem(state, { ...first.record, answers: [...first.record.answers, { worker: 'w2', label: 'a' }] });
    expect(state.workers.w1!.answers).toBeCloseTo(1, 12);
    expect(state.workers.w2!.answers).toBeCloseTo(1, 12);
    expect(state.classCounts[0]! + state.classCounts[1]!).toBeCloseTo(1, 12);
    expect(second.confidence).toBeGreaterThan(first.confidence);
  });

  it('gold items clamp their posterior and build the worker gold record', () => {
    const state = createDsState(['a', 'b']);
    const d = observeItem(state, { answers: [{ worker: 'w1', label: 'b' }], gold: 'a' });
    expect(d).toMatchObject({ label: 'a', confidence: 1 });
    expect(state.workers.w1).toMatchObject({ goldTotal: 1, goldCorrect: 0, answers: 3 });
    expect(() => observeItem(state, { answers: [{ worker: 'w1', label: 'zzz' }] })).toThrow(/not one of the control's labels/);
  });

  it('seeds from a batch fit and warm-starts a batch fit from the state', () => {
    const built = categoricalFromRows(job.rows, job.labels);
    const batch = dawidSkene(built.data);
    const { state, records } = dsStateFromBatch(built, batch);
    expect(records.size).toBe(built.items.length);
    const again = dawidSkene(built.data, {}, warmStartFromState(state, built));
    expect(again.iterations).toBeLessThanOrEqual(3);
    let same = 0;
    for (let i = 0; i < built.data.nItems; i++) if (again.label[i] === batch.label[i]) same++;
    expect(same).toBe(built.data.nItems);
  });
});
