import { describe, expect, it } from 'vitest';
import { categoricalFromRows, type BuiltAnswers, type CategoricalResult } from './categorical.js';
import { dawidSkene } from './dawid-skene.js';
import { syntheticJob, type SyntheticJob } from './synthetic.js';
import { accuracyWeightedVote, majorityVote } from './vote.js';

function accuracy(built: BuiltAnswers, result: CategoricalResult, job: SyntheticJob, onlyNonGold = true): number {
  let right = 0;
  let n = 0;
  built.items.forEach((item, i) => {
    if (onlyNonGold && built.data.gold[i]! >= 0) return;
    n++;
    if (built.labels[result.label[i]!] === job.truth.get(item)) right++;
  });
  return right / n;
}

describe('majority and weighted vote', () => {
  const rows = [
    { item: 'a', worker: 'w1', label: 'cat' },
    { item: 'a', worker: 'w2', label: 'cat' },
    { item: 'a', worker: 'w3', label: 'dog' },
    { item: 'b', worker: 'w1', label: 'dog' },
    { item: 'b', worker: 'w2', label: 'cat' },
    { item: 'c', worker: 'w3', label: 'dog', gold: 'cat' },
  ];
  it('majority vote: winner, vote share, ties to the first label, gold clamps', () => {
    const built = categoricalFromRows(rows);
    const r = majorityVote(built.data);
    const byItem = (id: string) => built.items.indexOf(id);
    expect(built.labels[r.label[byItem('a')]!]).toBe('cat');
    expect(r.confidence[byItem('a')]).toBeCloseTo(2 / 3, 12);
    expect(built.labels[r.label[byItem('b')]!]).toBe('cat'); // tie: 'cat' was interned first
    expect(r.confidence[byItem('b')]).toBe(0.5);
    expect(built.labels[r.label[byItem('c')]!]).toBe('cat');
    expect(r.confidence[byItem('c')]).toBe(1);
    expect(r.agreement[byItem('a')]).toBeCloseTo(2 / 3, 12);
  });
  it('weighted vote follows the gold-proven worker against two unproven ones', () => {
    const proven = Array.from({ length: 10 }, (_, k) => ({ item: `g${k}`, worker: 'pro', label: 'x', gold: 'x' }));
    const built = categoricalFromRows([
      ...proven,
      { item: 'q', worker: 'pro', label: 'y' },
      { item: 'q', worker: 'n1', label: 'x' },
      { item: 'q', worker: 'n2', label: 'z' },
    ]);
    const r = accuracyWeightedVote(built.data);
    const q = built.items.indexOf('q');
    expect(built.labels[r.label[q]!]).toBe('y');
    expect(r.confidence[q]).toBeGreaterThan(0.5);
    expect(r.workerAccuracy[built.workers.indexOf('pro')]).toBeCloseTo((10 + 4.2) / 16, 12);
  });
  it('empty input and items without trusted answers', () => {
    const built = categoricalFromRows([]);
    expect(majorityVote(built.data).label.length).toBe(0);
    expect(dawidSkene(built.data).label.length).toBe(0);
  });
});

describe('Dawid–Skene on synthetic crowds', () => {
  it('3 of 5 annotators random, 2 accurate: Dawid–Skene beats majority vote by at least 10 points', () => {
    const job = syntheticJob({
      seed: 20261129,
      items: 2000,
      labels: 4,
      workers: [{ kind: 'accurate', accuracy: 0.85 }, { kind: 'accurate', accuracy: 0.85 }, { kind: 'random' }, { kind: 'random' }, { kind: 'random' }],
    });
    const built = categoricalFromRows(job.rows, job.labels);
    const mv = majorityVote(built.data);
    const wv = accuracyWeightedVote(built.data);
    const ds = dawidSkene(built.data);
    const accMv = accuracy(built, mv, job);
    const accWv = accuracy(built, wv, job);
    const accDs = accuracy(built, ds, job);
    console.log(`synthetic 2 accurate (0.85) + 3 random, 4 labels, 2000 items: majority ${accMv.toFixed(4)}, weighted ${accWv.toFixed(4)}, Dawid–Skene ${accDs.toFixed(4)} (${ds.iterations} iterations, converged ${ds.converged})`);
    expect(accDs - accMv).toBeGreaterThanOrEqual(0.1);
    expect(ds.converged).toBe(true);
    // The model finds who is who: accurate workers near 0.85, random ones near 1/4.
    for (const w of ['w0', 'w1']) expect(ds.workerAccuracy[built.workers.indexOf(w)]).toBeGreaterThan(0.75);
    for (const w of ['w2', 'w3', 'w4']) expect(ds.workerAccuracy[built.workers.indexOf(w)]).toBeLessThan(0.4);
    // Confidence is calibrated enough that the confident decisions are the right ones.
    let confident = 0;
    let confidentRight = 0;
    built.items.forEach((item, i) => {
      if (ds.confidence[i]! < 0.9) return;
      confident++;
      if (built.labels[ds.label[i]!] === job.truth.get(item)) confidentRight++;
    });
    expect(confidentRight / confident).toBeGreaterThan(0.9);
  });

  it('colluders who always agree and fail gold: gold-anchored trust rejects them, agreement alone does not', () => {
    const job = syntheticJob({
      seed: 7,
      items: 1000,
      labels: 4,
      goldShare: 0.1,
      workers: [{ kind: 'accurate', accuracy: 0.9 }, { kind: 'accurate', accuracy: 0.9 }, { kind: 'colluder' }, { kind: 'colluder' }, { kind: 'colluder' }],
    });
    const built = categoricalFromRows(job.rows, job.labels);
    const colluders = ['w2', 'w3', 'w4'].map((w) => built.workers.indexOf(w));
    const honest = ['w0', 'w1'].map((w) => built.workers.indexOf(w));

    // Agreement-only trust (no exclusion, no gold weight): the three colluders outvote the truth.
    const naive = dawidSkene(built.data, { trust: { untrustedBelow: 0 }, goldWeight: 1 });
    const naiveMv = majorityVote(built.data, { trust: { untrustedBelow: 0 } });
    // And with no gold at all, Dawid–Skene's agreement-based estimates side with the colluders.
    const blind = dawidSkene({ ...built.data, gold: new Int32Array(built.data.nItems).fill(-1) });
    // Gold-anchored (the defaults).
    const ds = dawidSkene(built.data);
    const mv = majorityVote(built.data);
    const wv = accuracyWeightedVote(built.data);
    const acc = (r: CategoricalResult) => accuracy(built, r, job);
    console.log(`collusion (3 colluders, 2 honest at 0.9, 10% gold): agreement-only MV ${acc(naiveMv).toFixed(4)}, agreement-only DS ${acc(naive).toFixed(4)}, DS without gold ${acc(blind).toFixed(4)}; gold-anchored MV ${acc(mv).toFixed(4)}, weighted ${acc(wv).toFixed(4)}, DS ${acc(ds).toFixed(4)}`);
    expect(acc(naiveMv)).toBeLessThan(0.5);
    expect(acc(blind)).toBeLessThan(0.5);
    for (const w of colluders) {
      expect(ds.workerTrusted[w]).toBe(0);
      expect(ds.workerAccuracy[w]).toBeLessThan(0.5);
      expect(wv.workerAccuracy[w]).toBeLessThan(0.5);
    }
    for (const w of honest) expect(ds.workerTrusted[w]).toBe(1);
    expect(acc(ds)).toBeGreaterThan(0.85);
    expect(acc(wv)).toBeGreaterThan(0.85);
    expect(acc(ds) - acc(naiveMv)).toBeGreaterThan(0.4);
  });

  it('full confusion matrices turn a systematic confuser into evidence; one-coin models cannot', () => {
    // Two workers answer t + 1 for truth t: without gold that is indistinguishable from a relabelled
    // truth (label switching), so the job has gold; exclusion by gold accuracy is off because these
    // workers are inaccurate yet informative, which only a full matrix can use.
    const job = syntheticJob({
      seed: 5,
      items: 2000,
      labels: 4,
      goldShare: 0.1,
      workers: [{ kind: 'accurate', accuracy: 0.7 }, { kind: 'shifted', accuracy: 0.9 }, { kind: 'shifted', accuracy: 0.9 }, { kind: 'random' }],
    });
    const built = categoricalFromRows(job.rows, job.labels);
    const trust = { untrustedBelow: 0 };
    const ds = dawidSkene(built.data, { trust });
    const oneCoin = dawidSkene(built.data, { trust, minAnswersForConfusion: Infinity });
    const mv = majorityVote(built.data, { trust });
    console.log(`systematic confusers: majority ${accuracy(built, mv, job).toFixed(4)}, one-coin DS ${accuracy(built, oneCoin, job).toFixed(4)}, full DS ${accuracy(built, ds, job).toFixed(4)}`);
    expect(accuracy(built, ds, job)).toBeGreaterThan(0.9);
    expect(accuracy(built, ds, job) - accuracy(built, oneCoin, job)).toBeGreaterThan(0.1);
  });

  it('a worker with three answers gets a smoothed one-coin matrix, not a 0/1 one', () => {
    const built = categoricalFromRows([
      { item: 'a', worker: 'new', label: 'x' },
      { item: 'b', worker: 'new', label: 'y' },
      { item: 'c', worker: 'new', label: 'x' },
      { item: 'a', worker: 'old', label: 'x' },
    ]);
    const ds = dawidSkene(built.data);
    const w = built.workers.indexOf('new');
    expect(ds.fullMatrix[w]).toBe(0);
    expect(ds.workerAccuracy[w]).toBeGreaterThan(0.5);
    expect(ds.workerAccuracy[w]).toBeLessThan(0.95);
  });

  it('warm start from a previous fit converges in fewer iterations to the same labels', () => {
    const job = syntheticJob({ seed: 3, items: 1500, labels: 5, workers: [{ kind: 'accurate', accuracy: 0.8 }, { kind: 'accurate', accuracy: 0.7 }, { kind: 'random' }, { kind: 'accurate', accuracy: 0.6 }], perItem: 3 });
    const built = categoricalFromRows(job.rows, job.labels);
    const cold = dawidSkene(built.data);
    const warm = dawidSkene(built.data, {}, { counts: cold.counts, answers: cold.answers, classCounts: cold.classCounts });
    expect(warm.iterations).toBeLessThan(cold.iterations);
    let same = 0;
    for (let i = 0; i < built.data.nItems; i++) if (warm.label[i] === cold.label[i]) same++;
    expect(same / built.data.nItems).toBeGreaterThan(0.995);
  });
});
