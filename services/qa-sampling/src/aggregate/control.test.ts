import { describe, expect, it } from 'vitest';
import { aggregateBoxes, medianBox } from './boxes.js';
import { aggregateChoices, aggregateControl, aggregateNumeric } from './control.js';
import { aggregateSpans } from './spans.js';
import { aggregateText } from './text.js';

const box = (x: number, y: number, w: number, h: number, label = 'car') => ({ labels: [label], x, y, width: w, height: h });

describe('rectangles: cluster by IoU, coordinate-wise median', () => {
  it('three annotators, one car each plus one stray box: the car survives as the median', () => {
    const r = aggregateBoxes([{ boxes: [box(10, 10, 20, 20)] }, { boxes: [box(12, 10, 20, 22), box(70, 70, 5, 5)] }, { boxes: [box(11, 9, 18, 20)] }]);
    expect(r.value.boxes).toEqual([box(11, 10, 20, 20)]);
    expect(r.clusters.map((c) => c.support)).toEqual([3, 1]);
    // Two annotators match the result exactly (F1 1), the one with the extra box has F1 2/3.
    expect(r.agreement).toBeCloseTo((1 + 2 / 3 + 1) / 3, 12);
  });
  it('labels do not mix; boxes that do not overlap form separate clusters; no majority, no box', () => {
    const r = aggregateBoxes([{ boxes: [box(0, 0, 10, 10, 'car')] }, { boxes: [box(0, 0, 10, 10, 'truck')] }, { boxes: [box(50, 50, 10, 10, 'car')] }]);
    expect(r.value.boxes).toEqual([]);
    expect(r.clusters).toHaveLength(3);
    expect(aggregateBoxes([{ boxes: [] }, { boxes: [] }])).toMatchObject({ value: { boxes: [] }, agreement: 1 });
  });
  it('one box per annotator per cluster, rotation medians', () => {
    expect(medianBox([{ ...box(0, 0, 10, 10), rotation: 10 }, box(0, 0, 10, 10), { ...box(0, 0, 10, 10), rotation: 20 }]).rotation).toBe(10);
    const r = aggregateBoxes([{ boxes: [box(0, 0, 10, 10), box(1, 0, 10, 10)] }, { boxes: [box(0, 0, 10, 10)] }]);
    expect(r.clusters[0]!.members).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });
});

describe('spans: per-character vote', () => {
  it('keeps the characters a majority marked, per label', () => {
    const r = aggregateSpans(
      [
        { spans: [{ start: 0, end: 10, labels: ['PER'] }] },
        { spans: [{ start: 2, end: 12, labels: ['PER'] }] },
        { spans: [{ start: 4, end: 8, labels: ['ORG'] }] },
      ],
      { text: 'Ada Lovelace wrote' },
    );
    expect(r.value.spans).toEqual([{ start: 2, end: 10, labels: ['PER'], text: 'a Lovela' }]);
  });
  it('spans that touch join into one run; the agreement is character F1', () => {
    const r = aggregateSpans([{ spans: [{ start: 0, end: 5, labels: ['X'] }, { start: 5, end: 9, labels: ['X'] }] }, { spans: [{ start: 0, end: 9, labels: ['X'] }] }]);
    expect(r.value.spans).toEqual([{ start: 0, end: 9, labels: ['X'] }]);
    expect(r.agreement).toBe(1);
    const half = aggregateSpans([{ spans: [{ start: 0, end: 10, labels: ['X'] }] }, { spans: [{ start: 0, end: 10, labels: ['X'] }] }, { spans: [] }]);
    expect(half.value.spans).toEqual([{ start: 0, end: 10, labels: ['X'] }]);
    expect(half.agreement).toBeCloseTo(2 / 3, 12);
  });
});

describe('transcription: medoid by edit distance', () => {
  it('picks the answer closest to all others', () => {
    const r = aggregateText([{ text: ['the quick brown fox'] }, { text: ['the quick brown fax'] }, { text: ['the quick brown fox'] }, { text: ['a slow dog'] }]);
    expect(r.index).toBe(0);
    expect(r.value.text).toEqual(['the quick brown fox']);
    expect(r.agreement).toBeGreaterThan(0.5);
    expect(r.agreement).toBeLessThan(1);
    expect(aggregateText([{ text: ['only'] }])).toMatchObject({ index: 0, agreement: 1 });
    expect(aggregateText([]).index).toBe(-1);
  });
});

describe('choices and numbers', () => {
  it('single: majority with share; multiple: binary relevance per value', () => {
    expect(aggregateChoices([{ choices: ['a'] }, { choices: ['b'] }, { choices: ['a'] }])).toMatchObject({ value: { choices: ['a'] } });
    expect(aggregateChoices([{ choices: ['a'] }, { choices: ['b'] }, { choices: ['a'] }]).confidence).toBeCloseTo(2 / 3, 12);
    const m = aggregateChoices([{ choices: ['a', 'b'] }, { choices: ['a'] }, { choices: ['a', 'c'] }], { multiple: true });
    expect(m.value.choices).toEqual(['a']);
    expect(aggregateChoices([{ choices: ['a'] }, { choices: ['b'] }], { weights: [1, 3] }).value.choices).toEqual(['b']);
  });
  it('numbers: lower median, share within tolerance', () => {
    expect(aggregateNumeric([3, 4, 5, 4])).toMatchObject({ value: 4, agreement: 0.5 });
    expect(aggregateNumeric([1, 2, 3, 4], { tolerance: 1 })).toMatchObject({ value: 2, agreement: 0.75 });
  });
  it('the dispatcher decides polygons by medoid', () => {
    const sq = (o: number) => ({ polygons: [{ labels: ['r'], points: [[o, 0], [o + 10, 0], [o + 10, 10], [o, 10]] as Array<[number, number]> }] });
    const d = aggregateControl({ name: 'p', type: 'polygon' }, [sq(0), sq(1), sq(40)]);
    expect(d.value).toEqual(sq(0));
    expect(aggregateControl({ name: 'r', type: 'rating' }, [{ rating: 4 }, { rating: 4 }, { rating: 1 }]).value).toEqual({ rating: 4 });
  });
});
