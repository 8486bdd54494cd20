import { describe, expect, it } from 'vitest';
import { boxCorners, boxIoU, convexIntersectionArea } from './geometry.js';
import { matchCandidates, maxSimilarityMatching, minCostAssignment } from './hungarian.js';
import { compareRectangles } from './rectangles.js';

const SQRT1_2 = Math.SQRT1_2;

describe('boxIoU', () => {
  it('unrotated: half overlap is 1/3, disjoint and touching boxes are 0', () => {
    const a = { labels: ['a'], x: 0, y: 0, width: 2, height: 2 };
    expect(boxIoU(a, { ...a, x: 1 })).toBeCloseTo(1 / 3, 12);
    expect(boxIoU(a, { ...a, x: 5 })).toBe(0);
    expect(boxIoU(a, { ...a, x: 2 })).toBe(0);
    expect(boxIoU(a, a)).toBe(1);
  });

  it('a 90° turn about the top-left corner swings the box onto its left neighbour: IoU 0', () => {
    const a = { labels: ['a'], x: 10, y: 10, width: 20, height: 20 };
    const b = { ...a, rotation: 90 };
    // x axis -> (0, 1), y axis -> (-1, 0): b covers [-10, 10] × [10, 30], touching a along x = 10.
    expect([...boxCorners(b)].map((v) => Math.round(v * 1e9) / 1e9)).toEqual([10, 10, 10, 30, -10, 30, -10, 10]);
    expect(boxIoU(a, b)).toBeCloseTo(0, 12);
  });

  it('a 180° turn about the corner lands on the box up-left of it', () => {
    const a = { labels: ['a'], x: 0, y: 0, width: 2, height: 2 };
    const b = { labels: ['a'], x: 2, y: 2, width: 2, height: 2, rotation: 180 };
    expect(boxIoU(a, b)).toBeCloseTo(1, 12);
  });

  it('a square and the same square turned 45° about its centre: the octagon gives IoU 1/√2', () => {
    // Hand computation: overlap = 2(√2−1)s², union = 2s² − overlap, ratio = 1/√2.
    // A 45° turn about the centre (50, 50) puts the top-left corner at (50, 50 − s/√2).
    const s = 20;
    const a = { labels: ['a'], x: 40, y: 40, width: s, height: s };
    const b = { labels: ['a'], x: 50, y: 50 - s * SQRT1_2, width: s, height: s, rotation: 45 };
    expect(boxIoU(a, b)).toBeCloseTo(SQRT1_2, 9);
    expect(boxIoU(b, a)).toBeCloseTo(SQRT1_2, 9);
  });

  it('rotations turn in pixels when the image size is known (percent space is not isotropic)', () => {
    // A 20×20 px square in a 200×100 image is 10% × 20%; turned 45° about its centre (100, 50) px.
    const image = { width: 200, height: 100 };
    const a = { labels: ['a'], x: 45, y: 40, width: 10, height: 20 };
    const topLeftYpx = 50 - 20 * SQRT1_2;
    const b = { labels: ['a'], x: 50, y: topLeftYpx, width: 10, height: 20, rotation: 45 };
    expect(boxIoU(a, b, image)).toBeCloseTo(SQRT1_2, 9);
    // Without the size the box is turned as if the image were square: a different shape.
    expect(Math.abs(boxIoU(a, b) - SQRT1_2)).toBeGreaterThan(0.05);
  });

  it('convex clipping works for either orientation', () => {
    const ccw = Float64Array.of(0, 0, 2, 0, 2, 2, 0, 2);
    const cw = Float64Array.of(1, 1, 1, 3, 3, 3, 3, 1);
    expect(convexIntersectionArea(ccw, cw)).toBeCloseTo(1, 12);
    expect(convexIntersectionArea(cw, ccw)).toBeCloseTo(1, 12);
  });
});

describe('Hungarian matching', () => {
  it('finds the assignment greedy matching misses', () => {
    // a0 likes b1 best (0.9) but only a1 can use b1; the optimum pairs a0-b0 and a1-b1.
    const sim = Float64Array.of(0.6, 0.9, 0, 0.8);
    const pairs = maxSimilarityMatching(sim, 2, 2, 0.5);
    expect(pairs).toEqual([
      [0, 0, 0.6],
      [1, 1, 0.8],
    ]);
  });

  it('agrees with brute force on random rectangular matrices', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0), seed / 2 ** 32);
    const permutations = (k: number, n: number): number[][] => {
      if (k === 0) return [[]];
      const out: number[][] = [];
      for (const rest of permutations(k - 1, n)) for (let j = 0; j < n; j++) if (!rest.includes(j)) out.push([...rest, j]);
      return out;
    };
    for (let t = 0; t < 60; t++) {
      const rows = 1 + Math.floor(rnd() * 5);
      const cols = 1 + Math.floor(rnd() * 5);
      const cost = Float64Array.from({ length: rows * cols }, () => Math.round(rnd() * 100) / 10);
      const asg = minCostAssignment(cost, rows, cols);
      const got = [...asg].reduce((s, j, i) => s + (j >= 0 ? cost[i * cols + j]! : 0), 0);
      let best = Infinity;
      if (rows <= cols) {
        for (const p of permutations(rows, cols)) best = Math.min(best, p.reduce((s, j, i) => s + cost[i * cols + j]!, 0));
      } else {
        for (const p of permutations(cols, rows)) best = Math.min(best, p.reduce((s, i, j) => s + cost[i * cols + j]!, 0));
      }
      expect(got).toBeCloseTo(best, 9);
      expect(new Set([...asg].filter((j) => j >= 0)).size).toBe(Math.min(rows, cols));
    }
  });

  it('component-wise matching equals one dense Hungarian on sparse random instances', () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0), seed / 2 ** 32);
    for (let t = 0; t < 40; t++) {
      const rows = 2 + Math.floor(rnd() * 8);
      const cols = 2 + Math.floor(rnd() * 8);
      const sim = new Float64Array(rows * cols);
      const candidates: Array<[number, number, number]> = [];
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          if (rnd() < 0.25) {
            const s = 0.05 + Math.round(rnd() * 95) / 100;
            sim[i * cols + j] = s;
            candidates.push([i, j, s]);
          }
        }
      }
      const cost = Float64Array.from(sim, (s) => -s);
      const dense = minCostAssignment(cost, rows, cols);
      const best = [...dense].reduce((acc, j, i) => acc + (j >= 0 ? sim[i * cols + j]! : 0), 0);
      const got = matchCandidates(candidates, rows, cols).reduce((acc, p) => acc + p[2], 0);
      expect(got).toBeCloseTo(best, 9);
    }
  });

  it('a thousand boxes in small clusters match without a 1000×1000 assignment', () => {
    const a = { boxes: Array.from({ length: 1000 }, (_, k) => ({ labels: ['x'], x: (k % 40) * 2.5, y: Math.floor(k / 40) * 4, width: 2, height: 3 })) };
    const b = { boxes: a.boxes.map((bx) => ({ ...bx, x: bx.x + 0.1 })) };
    expect(compareRectangles(a, b).matched).toBe(1000);
  });
});

