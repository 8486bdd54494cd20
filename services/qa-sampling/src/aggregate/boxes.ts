import { sameLabels } from '../compare/common.js';
import { boxIoU } from '../compare/geometry.js';
import { maxSimilarityMatching } from '../compare/hungarian.js';
import { compareRectangles } from '../compare/rectangles.js';
import type { Box, BoxesValue, ImageSize } from '../compare/types.js';

export interface BoxAggregationOptions {
  /** A box joins a cluster when its IoU with the cluster's median box is >= this (default 0.5). */
  iouThreshold?: number;
  /** Clusters need this many annotators' boxes to be kept (default: a strict majority, ⌊n/2⌋ + 1). */
  minSupport?: number;
  /** Boxes of different labels never cluster (default true). */
  labelsMustMatch?: boolean;
  image?: ImageSize;
}

export interface BoxCluster {
  /** Coordinate-wise median of the members. */
  box: Box;
  /** [annotation index, box index] of each member; at most one box per annotation. */
  members: Array<[number, number]>;
  support: number;
}

export interface BoxAggregation {
  value: BoxesValue;
  /** Every cluster, kept or not, for review and evidence. */
  clusters: BoxCluster[];
  /** Mean F1 (at the IoU threshold) of each annotation against the result, in [0, 1]. */
  agreement: number;
  /** Equals agreement: how well the annotators support the result. */
  confidence: number;
}

/**
 * Rectangles by clustering: annotations are taken in order; each one's boxes are matched one-to-one
 * (Hungarian, IoU >= threshold, same labels) to the current clusters' median boxes, the unmatched
 * ones open new clusters, and a cluster's box is the coordinate-wise median (x, y, width, height,
 * rotation) of its members. Clusters drawn by at least minSupport annotators are the result.
 */
export function aggregateBoxes(annotations: readonly (BoxesValue | undefined)[], options: BoxAggregationOptions = {}): BoxAggregation {
  const n = annotations.length;
  const threshold = options.iouThreshold ?? 0.5;
  const labelsMustMatch = options.labelsMustMatch ?? true;
  const minSupport = options.minSupport ?? Math.floor(n / 2) + 1;
  const clusters: BoxCluster[] = [];
  annotations.forEach((annotation, a) => {
    const boxes = annotation?.boxes ?? [];
    if (boxes.length === 0) return;
    const m = clusters.length;
    const sim = new Float64Array(boxes.length * m);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = 0; j < m; j++) {
        if (labelsMustMatch && !sameLabels(boxes[i]!.labels, clusters[j]!.box.labels)) continue;
        sim[i * m + j] = boxIoU(boxes[i]!, clusters[j]!.box, options.image);
      }
    }
    const pairs = maxSimilarityMatching(sim, boxes.length, m, threshold);
    const matched = new Set<number>();
    for (const [i, j] of pairs) {
      matched.add(i);
      const c = clusters[j]!;
      c.members.push([a, i]);
      c.support++;
      c.box = medianBox(c.members.map(([aa, bb]) => annotations[aa]!.boxes[bb]!));
    }
    boxes.forEach((b, i) => {
      if (!matched.has(i)) clusters.push({ box: { ...stripId(b) }, members: [[a, i]], support: 1 });
    });
  });
  const kept = clusters.filter((c) => c.support >= minSupport).map((c) => c.box);
  const value: BoxesValue = { boxes: kept };
  let agreement = 1;
  if (n > 0) {
    let total = 0;
    for (const annotation of annotations) total += compareRectangles(annotation ?? { boxes: [] }, value, { iouThreshold: threshold, labelsMustMatch, ...(options.image ? { image: options.image } : {}) }).f1;
    agreement = total / n;
  }
  return { value, clusters, agreement, confidence: agreement };
}

function stripId(b: Box): Box {
  const { id: _id, ...rest } = b;
  return rest;
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Coordinate-wise median; labels of the most common label set; rotation only when a member has one. */
export function medianBox(boxes: readonly Box[]): Box {
  const labelVotes = new Map<string, { labels: string[]; n: number }>();
  for (const b of boxes) {
    const key = JSON.stringify([...b.labels].sort());
    const v = labelVotes.get(key);
    if (v) v.n++;
    else labelVotes.set(key, { labels: b.labels, n: 1 });
  }
  let labels: string[] = [];
  let best = 0;
  for (const v of labelVotes.values()) if (v.n > best) ((best = v.n), (labels = v.labels));
  const out: Box = {
    labels: [...labels],
    x: median(boxes.map((b) => b.x)),
    y: median(boxes.map((b) => b.y)),
    width: median(boxes.map((b) => b.width)),
    height: median(boxes.map((b) => b.height)),
  };
  if (boxes.some((b) => b.rotation)) out.rotation = median(boxes.map((b) => b.rotation ?? 0));
  return out;
}
