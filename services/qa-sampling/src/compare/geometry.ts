import type { Box, ImageSize } from './types.js';

/**
 * Plane geometry for box comparison. Polygons are flat Float64Arrays [x0, y0, x1, y1, ...].
 *
 * Coordinates: image space with y pointing down, so a positive rotation (degrees clockwise on
 * screen, Label Studio's convention) maps the x axis (1, 0) to (cos θ, sin θ).
 */

/**
 * The four corners of a box in order p0 = (x, y), p1 = p0 + width along the rotated x axis,
 * p2, p3 = p0 + height along the rotated y axis. With an image size the corners are in pixels:
 * percent → pixels first, because a rotation is only a true rotation in pixels (a 30° turn of a
 * box in a 1000×500 image is not a 30° turn in percent space). Without one the box is turned in
 * percent space, i.e. as if the image were square; IoU is unchanged by the per-axis scaling back,
 * so unrotated boxes compare exactly either way.
 */
export function boxCorners(box: Box, image?: ImageSize): Float64Array {
  const sx = image ? image.width / 100 : 1;
  const sy = image ? image.height / 100 : 1;
  const x = box.x * sx;
  const y = box.y * sy;
  const w = Math.max(0, box.width * sx);
  const h = Math.max(0, box.height * sy);
  const theta = ((box.rotation ?? 0) * Math.PI) / 180;
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  // Rotation about (x, y): the x axis becomes (c, s), the y axis (-s, c).
  return Float64Array.of(x, y, x + w * c, y + w * s, x + w * c - h * s, y + w * s + h * c, x - h * s, y + h * c);
}

/** Signed area (shoelace); positive for counter-clockwise in a y-up frame. */
export function signedArea(poly: Float64Array | number[], n = poly.length >> 1): number {
  let a = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    a += poly[j * 2]! * poly[i * 2 + 1]! - poly[i * 2]! * poly[j * 2 + 1]!;
  }
  return a / 2;
}

/**
 * Intersection area of two convex polygons (Sutherland–Hodgman: clipping any polygon by a convex
 * one is exact, and the result of two convex ones is convex). Works for either orientation.
 */
export function convexIntersectionArea(subject: Float64Array, clip: Float64Array): number {
  const clipN = clip.length >> 1;
  const orient = signedArea(clip, clipN) >= 0 ? 1 : -1;
  // Worst case the output has subject + clip vertices; two buffers swap roles per clip edge.
  const cap = (subject.length >> 1) + clipN + 2;
  let input = new Float64Array(cap * 2);
  let output = new Float64Array(cap * 2);
  input.set(subject);
  let inN = subject.length >> 1;
  for (let e = 0; e < clipN && inN > 0; e++) {
    const ax = clip[e * 2]!;
    const ay = clip[e * 2 + 1]!;
    const bx = clip[((e + 1) % clipN) * 2]!;
    const by = clip[((e + 1) % clipN) * 2 + 1]!;
    const ex = bx - ax;
    const ey = by - ay;
    let outN = 0;
    let px = input[(inN - 1) * 2]!;
    let py = input[(inN - 1) * 2 + 1]!;
    let pSide = orient * (ex * (py - ay) - ey * (px - ax));
    for (let k = 0; k < inN; k++) {
      const qx = input[k * 2]!;
      const qy = input[k * 2 + 1]!;
      const qSide = orient * (ex * (qy - ay) - ey * (qx - ax));
      if (qSide >= 0) {
        if (pSide < 0) {
          const t = pSide / (pSide - qSide);
          output[outN * 2] = px + t * (qx - px);
          output[outN * 2 + 1] = py + t * (qy - py);
          outN++;
        }
        output[outN * 2] = qx;
        output[outN * 2 + 1] = qy;
        outN++;
      } else if (pSide >= 0) {
        const t = pSide / (pSide - qSide);
        output[outN * 2] = px + t * (qx - px);
        output[outN * 2 + 1] = py + t * (qy - py);
        outN++;
      }
      px = qx;
      py = qy;
      pSide = qSide;
    }
    const swap = input;
    input = output;
    output = swap;
    inN = outN;
  }
  return inN < 3 ? 0 : Math.abs(signedArea(input, inN));
}

/** IoU of two convex polygons; 0 when the union has no area. */
export function convexIoU(a: Float64Array, b: Float64Array): number {
  const areaA = Math.abs(signedArea(a));
  const areaB = Math.abs(signedArea(b));
  if (areaA <= 0 || areaB <= 0) return 0;
  const inter = convexIntersectionArea(a, b);
  const union = areaA + areaB - inter;
  return union > 0 ? Math.min(1, inter / union) : 0;
}

/**
 * IoU of two boxes, rotation respected: the exact convex intersection of their corner polygons, or
 * the closed form when neither is rotated. See boxCorners for pixels versus percent.
 */
export function boxIoU(a: Box, b: Box, image?: ImageSize): number {
  if (!(a.rotation ?? 0) && !(b.rotation ?? 0)) {
    const sx = image ? image.width / 100 : 1;
    const sy = image ? image.height / 100 : 1;
    const aw = Math.max(0, a.width) * sx;
    const ah = Math.max(0, a.height) * sy;
    const bw = Math.max(0, b.width) * sx;
    const bh = Math.max(0, b.height) * sy;
    const ix = Math.min(a.x * sx + aw, b.x * sx + bw) - Math.max(a.x * sx, b.x * sx);
    const iy = Math.min(a.y * sy + ah, b.y * sy + bh) - Math.max(a.y * sy, b.y * sy);
    const inter = ix > 0 && iy > 0 ? ix * iy : 0;
    const union = aw * ah + bw * bh - inter;
    return union > 0 ? Math.min(1, inter / union) : 0;
  }
  return convexIoU(boxCorners(a, image), boxCorners(b, image));
}

/** Axis-aligned bounding box [minX, minY, maxX, maxY] of a flat point list. */
export function bounds(points: Float64Array): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i]!;
    const y = points[i + 1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX, maxY];
}
