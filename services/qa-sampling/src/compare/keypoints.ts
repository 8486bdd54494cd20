import { matchScores, sameLabels } from './common.js';
import { maxSimilarityMatching } from './hungarian.js';
import type { ImageSize, Keypoint, KeypointsValue, MatchComparison } from './types.js';

export interface KeypointsCompareOptions {
  /**
   * The object's size s in the answer's units (percent, or pixels when `image` is given). Default:
   * the diagonal of the bounding box of all keypoints of both answers, at least `minObjectSize`.
   * COCO uses sqrt(object area); with points only, their spread is the size we know.
   */
  objectSize?: number;
  /** Floor of the derived size, in percent of the image diagonal's unit (default 10). */
  minObjectSize?: number;
  /** κ of OKS: the tolerated error as a share of the object size (default 0.1). */
  kappa?: number;
  /** A pair matches when its similarity >= matchThreshold (default 0.5). */
  matchThreshold?: number;
  /** Pass when score >= passScore (default 0.8). */
  passScore?: number;
  labelsMustMatch?: boolean;
  /** Distances in pixels when given, so an error is measured the same along both axes. */
  image?: ImageSize;
}

export interface KeypointsComparison extends MatchComparison {
  /** 2·Σ similarity of matched pairs / (|a| + |b|): OKS when both have the same points, lower for missing or extra ones. */
  oks: number;
  objectSize: number;
}

/**
 * OKS-like keypoint agreement: per pair similarity exp(-d² / (2 (κ s)²)) with d the distance and s
 * the object size; points matched one-to-one (Hungarian, same labels); score = `oks`.
 */
export function compareKeypoints(a: KeypointsValue | undefined, b: KeypointsValue | undefined, options: KeypointsCompareOptions = {}): KeypointsComparison {
  const ka = a?.keypoints ?? [];
  const kb = b?.keypoints ?? [];
  const sx = options.image ? options.image.width / 100 : 1;
  const sy = options.image ? options.image.height / 100 : 1;
  const size = options.objectSize ?? derivedSize(ka, kb, sx, sy, (options.minObjectSize ?? 10) * Math.sqrt((sx * sx + sy * sy) / 2));
  const sigma = (options.kappa ?? 0.1) * size;
  const labelsMustMatch = options.labelsMustMatch ?? true;
  const m = kb.length;
  const sim = new Float64Array(ka.length * m);
  for (let i = 0; i < ka.length; i++) {
    for (let j = 0; j < m; j++) {
      const p = ka[i]!;
      const q = kb[j]!;
      if (labelsMustMatch && !sameLabels(p.labels, q.labels)) continue;
      const dx = (p.x - q.x) * sx;
      const dy = (p.y - q.y) * sy;
      sim[i * m + j] = sigma > 0 ? Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) : dx === 0 && dy === 0 ? 1 : 0;
    }
  }
  const pairs = maxSimilarityMatching(sim, ka.length, m, options.matchThreshold ?? 0.5);
  const passScore = options.passScore ?? 0.8;
  const base = matchScores(pairs.length, ka.length, m, pairs, passScore);
  const total = ka.length + m;
  const oks = total === 0 ? 1 : (2 * pairs.reduce((s, p) => s + p[2], 0)) / total;
  return { ...base, score: oks, pass: oks >= passScore, oks, objectSize: size };
}

function derivedSize(a: Keypoint[], b: Keypoint[], sx: number, sy: number, floor: number): number {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of [...a, ...b]) {
    minX = Math.min(minX, p.x * sx);
    maxX = Math.max(maxX, p.x * sx);
    minY = Math.min(minY, p.y * sy);
    maxY = Math.max(maxY, p.y * sy);
  }
  const diag = Number.isFinite(minX) ? Math.hypot(maxX - minX, maxY - minY) : 0;
  return Math.max(diag, floor);
}
