import { intersection, union } from 'polyclip-ts';
import { matchScores, sameLabels } from './common.js';
import { bounds, signedArea } from './geometry.js';
import { maxSimilarityMatching } from './hungarian.js';
import type { MatchComparison, Polygon, PolygonsValue } from './types.js';

export interface PolygonsCompareOptions {
  /** A pair matches when IoU >= iouThreshold (default 0.5). */
  iouThreshold?: number;
  /** Pass when F1 >= passScore (default 0.8). */
  passScore?: number;
  /** Polygons with different label sets never match (default true). */
  labelsMustMatch?: boolean;
}

export interface PolygonsComparison extends MatchComparison {
  meanIoU: number;
  /** True when some pair's IoU was estimated on a grid because the clipper failed on it. */
  approximate: boolean;
}

type Ring = Array<[number, number]>;
type MultiPolygon = Ring[][];

/** A polygon made valid once: polyclip's union of it with itself splits self-crossings, so its area is the true one. */
export interface PreparedPolygon {
  geom: MultiPolygon;
  raw: Float64Array;
  area: number;
  box: [number, number, number, number];
}

/**
 * Polygon IoU through polyclip-ts (Martinez–Rueda sweep; handles concave, self-touching and
 * self-crossing rings). IoU is invariant under the per-axis scaling from percent to pixels, so
 * polygons compare in percent space with no image size. Matching and score as for rectangles.
 */
export function comparePolygons(a: PolygonsValue | undefined, b: PolygonsValue | undefined, options: PolygonsCompareOptions = {}): PolygonsComparison {
  const pa = (a?.polygons ?? []).map((p) => preparePolygon(p));
  const pb = (b?.polygons ?? []).map((p) => preparePolygon(p));
  const la = a?.polygons ?? [];
  const lb = b?.polygons ?? [];
  const labelsMustMatch = options.labelsMustMatch ?? true;
  const m = pb.length;
  const sim = new Float64Array(pa.length * m);
  let approximate = false;
  for (let i = 0; i < pa.length; i++) {
    for (let j = 0; j < m; j++) {
      if (labelsMustMatch && !sameLabels(la[i]!.labels, lb[j]!.labels)) continue;
      const r = polygonIoU(pa[i]!, pb[j]!);
      sim[i * m + j] = r.iou;
      approximate ||= r.approximate;
    }
  }
  const pairs = maxSimilarityMatching(sim, pa.length, m, options.iouThreshold ?? 0.5);
  const result = matchScores(pairs.length, pa.length, m, pairs, options.passScore ?? 0.8);
  const meanIoU = pairs.length ? pairs.reduce((s, p) => s + p[2], 0) / pairs.length : 0;
  return { ...result, meanIoU, approximate };
}

export function preparePolygon(p: Pick<Polygon, 'points'>): PreparedPolygon {
  const ring: Ring = [];
  for (const pt of p.points) {
    const x = Number(pt[0]);
    const y = Number(pt[1]);
    if (Number.isFinite(x) && Number.isFinite(y)) ring.push([x, y]);
  }
  const raw = new Float64Array(ring.length * 2);
  ring.forEach(([x, y], k) => {
    raw[k * 2] = x;
    raw[k * 2 + 1] = y;
  });
  if (ring.length < 3) return { geom: [], raw, area: 0, box: ring.length ? bounds(raw) : [0, 0, 0, 0] };
  // The shoelace area of a self-crossing ring is wrong (a bow-tie's two lobes cancel to 0): the
  // area is taken from the clipper's valid decomposition.
  try {
    const geom = union([ring]) as MultiPolygon;
    return { geom, raw, area: multiPolygonArea(geom), box: bounds(raw) };
  } catch {
    return { geom: [[ring]], raw, area: Math.abs(signedArea(raw)), box: bounds(raw) };
  }
}

export function polygonIoU(a: PreparedPolygon, b: PreparedPolygon): { iou: number; approximate: boolean } {
  if (a.area <= 0 || b.area <= 0) return { iou: 0, approximate: false };
  if (a.box[2] <= b.box[0] || b.box[2] <= a.box[0] || a.box[3] <= b.box[1] || b.box[3] <= a.box[1]) return { iou: 0, approximate: false };
  let inter: number;
  let approximate = false;
  try {
    inter = multiPolygonArea(intersection(a.geom, b.geom) as MultiPolygon);
  } catch {
    // polyclip can still fail to close a ring on near-degenerate input; a grid estimate is better
    // than failing the whole comparison, and the result says it is approximate.
    inter = gridIntersectionArea(a, b);
    approximate = true;
  }
  const un = a.area + b.area - inter;
  return { iou: un > 0 ? Math.min(1, Math.max(0, inter / un)) : 0, approximate };
}

export function multiPolygonArea(mp: MultiPolygon): number {
  let total = 0;
  for (const poly of mp) {
    poly.forEach((ring, k) => {
      const flat = new Float64Array(ring.length * 2);
      ring.forEach(([x, y], i) => {
        flat[i * 2] = x;
        flat[i * 2 + 1] = y;
      });
      const area = Math.abs(signedArea(flat));
      total += k === 0 ? area : -area;
    });
  }
  return total;
}

const GRID = 256;

/** Even-odd point sampling on a GRID × GRID lattice over the overlap of the two bounding boxes. */
function gridIntersectionArea(a: PreparedPolygon, b: PreparedPolygon): number {
  const x0 = Math.max(a.box[0], b.box[0]);
  const y0 = Math.max(a.box[1], b.box[1]);
  const x1 = Math.min(a.box[2], b.box[2]);
  const y1 = Math.min(a.box[3], b.box[3]);
  if (x1 <= x0 || y1 <= y0) return 0;
  const dx = (x1 - x0) / GRID;
  const dy = (y1 - y0) / GRID;
  let inside = 0;
  for (let gy = 0; gy < GRID; gy++) {
    const y = y0 + (gy + 0.5) * dy;
    for (let gx = 0; gx < GRID; gx++) {
      const x = x0 + (gx + 0.5) * dx;
      if (pointInPolygon(a.raw, x, y) && pointInPolygon(b.raw, x, y)) inside++;
    }
  }
  return inside * dx * dy;
}

function pointInPolygon(poly: Float64Array, x: number, y: number): boolean {
  let inside = false;
  const n = poly.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[i * 2]!;
    const yi = poly[i * 2 + 1]!;
    const xj = poly[j * 2]!;
    const yj = poly[j * 2 + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
