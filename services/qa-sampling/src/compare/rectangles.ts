import { matchScores, sameLabels } from './common.js';
import { boxIoU } from './geometry.js';
import { maxSimilarityMatching } from './hungarian.js';
import type { Box, BoxesValue, ImageSize, MatchComparison } from './types.js';

export interface RectanglesCompareOptions {
  /** A pair of boxes matches when IoU >= iouThreshold (default 0.5, PASCAL VOC's). */
  iouThreshold?: number;
  /** Pass when F1 >= passScore (default 0.8). */
  passScore?: number;
  /** Boxes with different label sets never match (default true). */
  labelsMustMatch?: boolean;
  /** Pixels: rotations are turned in pixel space (see boxCorners). */
  image?: ImageSize;
}

export interface RectanglesComparison extends MatchComparison {
  /** Mean IoU of the matched pairs (0 when none). */
  meanIoU: number;
}

/**
 * Boxes matched one-to-one by the Hungarian algorithm maximizing the summed IoU over pairs at or
 * above the threshold; score = F1 of the matches (precision over `a`, recall over `b`).
 */
export function compareRectangles(a: BoxesValue | undefined, b: BoxesValue | undefined, options: RectanglesCompareOptions = {}): RectanglesComparison {
  const ba = a?.boxes ?? [];
  const bb = b?.boxes ?? [];
  const matrix = boxIoUMatrix(ba, bb, options.image, options.labelsMustMatch ?? true);
  const pairs = maxSimilarityMatching(matrix, ba.length, bb.length, options.iouThreshold ?? 0.5);
  const result = matchScores(pairs.length, ba.length, bb.length, pairs, options.passScore ?? 0.8);
  const meanIoU = pairs.length ? pairs.reduce((s, p) => s + p[2], 0) / pairs.length : 0;
  return { ...result, meanIoU };
}

/** IoU of every pair, row-major |a| × |b|; 0 for pairs whose labels differ when labels must match. */
export function boxIoUMatrix(a: Box[], b: Box[], image: ImageSize | undefined, labelsMustMatch: boolean): Float64Array {
  const out = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      if (labelsMustMatch && !sameLabels(a[i]!.labels, b[j]!.labels)) continue;
      out[i * b.length + j] = boxIoU(a[i]!, b[j]!, image);
    }
  }
  return out;
}
