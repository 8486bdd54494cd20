import { describe, expect, it } from 'vitest';
import { compareAnswers, type ControlSpec } from './answer.js';
import { compareChoices } from './choices.js';
import { compareKeypoints } from './keypoints.js';
import { compareNumber, compareRating } from './numeric.js';
import { comparePolygons } from './polygons.js';
import { compareRectangles } from './rectangles.js';
import { compareSpans } from './spans.js';
import { compareFreeText, compareTranscription } from './text.js';

describe('choices', () => {
  it('single choice is exact and byte-exact', () => {
    expect(compareChoices({ choices: ['cat'] }, { choices: ['cat'] })).toMatchObject({ score: 1, pass: true });
    expect(compareChoices({ choices: ['cat'] }, { choices: ['dog'] })).toMatchObject({ score: 0, pass: false });
    expect(compareChoices({ choices: ['cat '] }, { choices: ['cat'] }).score).toBe(0);
    expect(compareChoices({ choices: ['Cat'] }, { choices: ['cat'] }).score).toBe(0);
  });
  it('multiple choice is Jaccard', () => {
    const r = compareChoices({ choices: ['a', 'b', 'c'] }, { choices: ['b', 'c', 'd'] }, { multiple: true, passScore: 0.5 });
    expect(r).toMatchObject({ score: 0.5, pass: true, intersection: 2, union: 4 });
    expect(compareChoices({ choices: ['a'] }, { choices: ['b'] }, { multiple: true }).score).toBe(0);
  });
  it('empty answers: both empty agree, one empty does not', () => {
    expect(compareChoices({ choices: [] }, { choices: [] }, { multiple: true }).score).toBe(1);
    expect(compareChoices(undefined, { choices: ['a'] }).score).toBe(0);
    expect(compareChoices({ choices: [] }, { choices: ['a'] }, { multiple: true }).score).toBe(0);
  });
});

describe('spans', () => {
  const a = {
    spans: [
      { start: 0, end: 5, labels: ['PER'] },
      { start: 10, end: 15, labels: ['ORG'] },
    ],
  };
  const b = {
    spans: [
      { start: 0, end: 5, labels: ['PER'] },
      { start: 10, end: 14, labels: ['ORG'] },
      { start: 20, end: 25, labels: ['LOC'] },
    ],
  };
  it('exact mode: only identical spans match (P 1/2, R 1/3, F1 0.4)', () => {
    const r = compareSpans(a, b, { mode: 'exact' });
    expect(r).toMatchObject({ matched: 1, precision: 0.5 });
    expect(r.recall).toBeCloseTo(1 / 3, 12);
    expect(r.f1).toBeCloseTo(0.4, 12);
    expect(r.pass).toBe(false);
  });
  it('overlap mode: overlapping spans of the same label match (P 1, R 2/3, F1 0.8)', () => {
    const r = compareSpans(a, b, { mode: 'overlap' });
    expect(r.matched).toBe(2);
    expect(r.precision).toBe(1);
    expect(r.recall).toBeCloseTo(2 / 3, 12);
    expect(r.score).toBeCloseTo(0.8, 12);
    expect(r.pass).toBe(true);
    // A minimum range IoU rules out the 4-of-5-character overlap (IoU 0.8) when it asks for 0.9.
    expect(compareSpans(a, b, { minOverlap: 0.9 }).matched).toBe(1);
  });
  it('spans that touch share no character and do not match', () => {
    const r = compareSpans({ spans: [{ start: 0, end: 5, labels: ['X'] }] }, { spans: [{ start: 5, end: 9, labels: ['X'] }] });
    expect(r).toMatchObject({ matched: 0, score: 0, pass: false });
  });
  it('labels mismatch: same range, other label is no match unless labels are ignored', () => {
    const x = { spans: [{ start: 3, end: 8, labels: ['PER'] }] };
    const y = { spans: [{ start: 3, end: 8, labels: ['ORG'] }] };
    expect(compareSpans(x, y).score).toBe(0);
    expect(compareSpans(x, y, { mode: 'exact' }).score).toBe(0);
    expect(compareSpans(x, y, { labelsMustMatch: false }).score).toBe(1);
  });
  it('empty answers', () => {
    expect(compareSpans({ spans: [] }, { spans: [] })).toMatchObject({ score: 1, pass: true, precision: 1, recall: 1 });
    expect(compareSpans({ spans: [] }, b)).toMatchObject({ score: 0, precision: 0, recall: 0 });
    expect(compareSpans(undefined, undefined).score).toBe(1);
  });
  it('one long span cannot be matched twice', () => {
    const r = compareSpans(
      { spans: [{ start: 0, end: 20, labels: ['X'] }] },
      {
        spans: [
          { start: 0, end: 10, labels: ['X'] },
          { start: 10, end: 20, labels: ['X'] },
        ],
      },
    );
    expect(r.matched).toBe(1);
    expect(r.f1).toBeCloseTo(2 / 3, 12);
  });
  it('the greedy path for very long span lists gives the same result on disjoint spans', () => {
    const many = { spans: Array.from({ length: 600 }, (_, k) => ({ start: k * 10, end: k * 10 + 5, labels: ['X'] })) };
    const shifted = { spans: many.spans.map((s) => ({ ...s, start: s.start + 1, end: s.end + 1 })) };
    const r = compareSpans(many, shifted);
    expect(r.matched).toBe(600);
  });
});

describe('rectangles', () => {
  const box = (x: number, y: number, w: number, h: number, label = 'car', rotation?: number) => ({ labels: [label], x, y, width: w, height: h, ...(rotation !== undefined ? { rotation } : {}) });
  it('matches one-to-one at the IoU threshold and reports precision/recall', () => {
    const a = { boxes: [box(0, 0, 10, 10), box(50, 50, 10, 10)] };
    const b = { boxes: [box(1, 0, 10, 10), box(80, 80, 5, 5), box(50, 50, 10, 10)] };
    const r = compareRectangles(a, b);
    expect(r.matched).toBe(2);
    expect(r.precision).toBe(1);
    expect(r.recall).toBeCloseTo(2 / 3, 12);
    expect(r.f1).toBeCloseTo(0.8, 12);
    expect(r.meanIoU).toBeCloseTo((90 / 110 + 1) / 2, 12);
  });
  it('boxes that do not overlap never match', () => {
    const r = compareRectangles({ boxes: [box(0, 0, 10, 10)] }, { boxes: [box(20, 20, 10, 10)] });
    expect(r).toMatchObject({ matched: 0, score: 0, pass: false, meanIoU: 0 });
  });
  it('the IoU threshold decides: 1/3 overlap passes at 0.3 and fails at 0.5', () => {
    const a = { boxes: [box(0, 0, 2, 2)] };
    const b = { boxes: [box(1, 0, 2, 2)] };
    expect(compareRectangles(a, b).matched).toBe(0);
    expect(compareRectangles(a, b, { iouThreshold: 0.3 }).matched).toBe(1);
  });
  it('labels mismatch', () => {
    const r = compareRectangles({ boxes: [box(0, 0, 10, 10, 'car')] }, { boxes: [box(0, 0, 10, 10, 'truck')] });
    expect(r.score).toBe(0);
    expect(compareRectangles({ boxes: [box(0, 0, 10, 10, 'car')] }, { boxes: [box(0, 0, 10, 10, 'truck')] }, { labelsMustMatch: false }).score).toBe(1);
  });
  it('rotated boxes: 45° about the centre gives IoU 1/√2, which passes at 0.7 and fails at 0.75', () => {
    const a = { boxes: [box(40, 40, 20, 20)] };
    const b = { boxes: [box(50, 50 - 20 * Math.SQRT1_2, 20, 20, 'car', 45)] };
    expect(compareRectangles(a, b, { iouThreshold: 0.7 }).meanIoU).toBeCloseTo(Math.SQRT1_2, 9);
    expect(compareRectangles(a, b, { iouThreshold: 0.75 }).matched).toBe(0);
  });
  it('empty answers', () => {
    expect(compareRectangles({ boxes: [] }, { boxes: [] })).toMatchObject({ score: 1, pass: true });
    expect(compareRectangles({ boxes: [] }, { boxes: [box(0, 0, 1, 1)] })).toMatchObject({ score: 0, recall: 0 });
  });
});

describe('polygons', () => {
  const square = (s: number, label = 'roof') => ({ labels: [label], points: [[0, 0], [s, 0], [s, s], [0, s]] as Array<[number, number]> });
  it('concave L inside a square: IoU 3/4', () => {
    const l = { labels: ['roof'], points: [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]] as Array<[number, number]> };
    const r = comparePolygons({ polygons: [l] }, { polygons: [square(2)] });
    expect(r.meanIoU).toBeCloseTo(0.75, 9);
    expect(r).toMatchObject({ matched: 1, approximate: false });
  });
  it('a self-crossing bow-tie has the area of its two triangles: IoU 1/2 with the square', () => {
    const bow = { labels: ['roof'], points: [[0, 0], [2, 2], [2, 0], [0, 2]] as Array<[number, number]> };
    expect(comparePolygons({ polygons: [bow] }, { polygons: [square(2)] }, { iouThreshold: 0.4 }).meanIoU).toBeCloseTo(0.5, 9);
  });
  it('a self-touching polygon: IoU 12/16', () => {
    const notch = { labels: ['roof'], points: [[0, 0], [4, 0], [4, 4], [2, 2], [0, 4]] as Array<[number, number]> };
    expect(comparePolygons({ polygons: [notch] }, { polygons: [square(4)] }).meanIoU).toBeCloseTo(0.75, 9);
  });
  it('disjoint, degenerate, labels mismatch and empty', () => {
    const far = { labels: ['roof'], points: [[10, 10], [12, 10], [12, 12]] as Array<[number, number]> };
    expect(comparePolygons({ polygons: [far] }, { polygons: [square(2)] }).score).toBe(0);
    const line = { labels: ['roof'], points: [[0, 0], [2, 2], [1, 1]] as Array<[number, number]> };
    expect(comparePolygons({ polygons: [line] }, { polygons: [square(2)] }).score).toBe(0);
    expect(comparePolygons({ polygons: [square(2, 'roof')] }, { polygons: [square(2, 'wall')] }).score).toBe(0);
    expect(comparePolygons({ polygons: [] }, { polygons: [] }).score).toBe(1);
    expect(comparePolygons({ polygons: [square(2)] }, { polygons: [] }).score).toBe(0);
  });
});

describe('keypoints', () => {
  const kp = (x: number, y: number, label = 'nose') => ({ labels: [label], x, y });
  it('identical points score 1; a point off by κ·s scores exp(−1/2)', () => {
    const a = { keypoints: [kp(10, 10), kp(30, 30, 'eye')] };
    expect(compareKeypoints(a, a, { objectSize: 100 }).score).toBe(1);
    const b = { keypoints: [kp(10, 10), kp(40, 30, 'eye')] };
    const r = compareKeypoints(a, b, { objectSize: 100, kappa: 0.1 });
    expect(r.matched).toBe(2);
    expect(r.oks).toBeCloseTo((1 + Math.exp(-0.5)) / 2, 12);
  });
  it('distance is normalized by object size: the same 10-unit error is fine on a big object', () => {
    const a = { keypoints: [kp(10, 10)] };
    const b = { keypoints: [kp(20, 10)] };
    expect(compareKeypoints(a, b, { objectSize: 20 }).matched).toBe(0);
    expect(compareKeypoints(a, b, { objectSize: 400 }).score).toBeCloseTo(Math.exp(-100 / (2 * 40 * 40)), 12);
  });
  it('pixels: a 1% error along x is 10 px in a 1000 px wide image', () => {
    const r = compareKeypoints({ keypoints: [kp(50, 50)] }, { keypoints: [kp(51, 50)] }, { objectSize: 100, image: { width: 1000, height: 100 } });
    expect(r.score).toBeCloseTo(Math.exp(-0.5), 12);
  });
  it('missing, extra and mislabelled points', () => {
    expect(compareKeypoints({ keypoints: [] }, { keypoints: [] }).score).toBe(1);
    expect(compareKeypoints({ keypoints: [kp(1, 1)] }, { keypoints: [] }).score).toBe(0);
    expect(compareKeypoints({ keypoints: [kp(1, 1, 'nose')] }, { keypoints: [kp(1, 1, 'eye')] }).score).toBe(0);
    const r = compareKeypoints({ keypoints: [kp(1, 1)] }, { keypoints: [kp(1, 1), kp(5, 5, 'eye')] }, { objectSize: 100 });
    expect(r.score).toBeCloseTo(2 / 3, 12);
    expect(r.recall).toBe(0.5);
  });
});

describe('transcription and free text', () => {
  it('CER and WER against the reference', () => {
    const r = compareTranscription({ text: ['kitten'] }, { text: ['sitting'] });
    expect(r.charDistance).toBe(3);
    expect(r.cer).toBeCloseTo(3 / 7, 12);
    expect(r.score).toBeCloseTo(1 - 3 / 7, 12);
    const w = compareTranscription({ text: ['the cat sat'] }, { text: ['the cat sat down'] }, { metric: 'wer' });
    expect(w.wer).toBe(0.25);
    expect(w.score).toBe(0.75);
  });
  it('counts code points, not UTF-16 units, and NFC-normalizes', () => {
    expect(compareTranscription({ text: ['👍a'] }, { text: ['👎a'] }).cer).toBe(0.5);
    expect(compareTranscription({ text: ['caf\u00e9'] }, { text: ['cafe\u0301'] }).cer).toBe(0);
    expect(compareTranscription({ text: ['a  b\n'] }, { text: ['a b'] }).score).toBe(1);
  });
  it('words are symbols: substituting one word is one edit whatever its length', () => {
    const r = compareTranscription({ text: ['one extraordinarily long word'] }, { text: ['one short word'] });
    expect(r.wordDistance).toBe(2);
  });
  it('empty answers', () => {
    expect(compareTranscription({ text: [] }, { text: [''] })).toMatchObject({ score: 1, cer: 0, wer: 0 });
    expect(compareTranscription({ text: ['x'] }, { text: [] })).toMatchObject({ score: 0, cer: 1 });
  });
  it('free text is a normalized exact match', () => {
    expect(compareFreeText({ text: ['Yes.'] }, { text: [' yes'] }).score).toBe(1);
    expect(compareFreeText({ text: ['ＡＢＣ'] }, { text: ['abc'] }).score).toBe(1);
    expect(compareFreeText({ text: ['yes'] }, { text: ['no'] })).toMatchObject({ score: 0, pass: false });
    expect(compareFreeText({ text: [] }, { text: [] }).score).toBe(1);
  });
});

describe('rating and number', () => {
  it('exact by default, tolerance on request, linear fall-off with a scale', () => {
    expect(compareRating({ rating: 3 }, { rating: 3 }).pass).toBe(true);
    expect(compareRating({ rating: 3 }, { rating: 4 })).toMatchObject({ score: 0, pass: false, difference: 1 });
    expect(compareRating({ rating: 3 }, { rating: 4 }, { tolerance: 1 }).pass).toBe(true);
    expect(compareRating({ rating: 1 }, { rating: 4 }, { scale: 4, passScore: 0.5 })).toMatchObject({ score: 0.25, pass: false });
    expect(compareNumber({ number: 0.1 + 0.2 }, { number: 0.3 }).pass).toBe(true);
    expect(compareNumber(undefined, { number: 1 }).score).toBe(0);
  });
});

describe('compareAnswers', () => {
  const controls: ControlSpec[] = [
    { name: 'sentiment', type: 'choices' },
    { name: 'objects', type: 'rectangle', weight: 2 },
    { name: 'comment', type: 'textarea', textMode: 'free_text' },
  ];
  it('per-control scores and a weighted mean; pass needs every control to pass', () => {
    const a = { sentiment: { choices: ['pos'] }, objects: { boxes: [{ labels: ['car'], x: 0, y: 0, width: 10, height: 10 }] } };
    const b = { sentiment: { choices: ['neg'] }, objects: { boxes: [{ labels: ['car'], x: 0, y: 0, width: 10, height: 10 }] } };
    const r = compareAnswers(controls, a, b);
    expect(r.controls.map((c) => [c.name, c.result.score])).toEqual([
      ['sentiment', 0],
      ['objects', 1],
    ]);
    expect(r.score).toBeCloseTo(2 / 3, 12);
    expect(r.pass).toBe(false);
    expect(compareAnswers(controls, a, a)).toMatchObject({ score: 1, pass: true });
  });
  it('a control one side left empty counts as disagreement; one both left empty is skipped', () => {
    const r = compareAnswers(controls, { sentiment: { choices: ['pos'] } }, { sentiment: { choices: ['pos'] }, comment: { text: ['ok'] } });
    expect(r.controls.map((c) => c.name)).toEqual(['sentiment', 'comment']);
    expect(r.score).toBe(0.5);
    expect(compareAnswers(controls, {}, null)).toMatchObject({ score: 1, pass: true, controls: [] });
  });
  it('per-type options from the policy and per-control options apply', () => {
    const a = { objects: { boxes: [{ labels: ['car'], x: 0, y: 0, width: 2, height: 2 }] } };
    const b = { objects: { boxes: [{ labels: ['car'], x: 1, y: 0, width: 2, height: 2 }] } };
    expect(compareAnswers(controls, a, b).score).toBe(0);
    expect(compareAnswers(controls, a, b, { options: { rectangle: { iouThreshold: 0.3 } } }).score).toBe(1);
  });
});
