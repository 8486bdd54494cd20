/**
 * Minimum-cost one-to-one assignment (the Hungarian algorithm, shortest augmenting paths with
 * potentials, O(n²·m)) on a dense row-major cost matrix of `rows × cols`. Every row is assigned when
 * rows <= cols, every column otherwise. Returns, for each row, its column or -1.
 *
 * Used to match objects of two answers (boxes, polygons, keypoints, spans) so that a box is never
 * counted twice: greedy matching can pair a box with its second-best partner and lose a match the
 * optimal assignment keeps.
 */
export function minCostAssignment(cost: Float64Array, rows: number, cols: number): Int32Array {
  const result = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return result;
  if (rows > cols) {
    const t = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = cost[i * cols + j]!;
    const colToRow = minCostAssignment(t, cols, rows);
    for (let j = 0; j < cols; j++) {
      const i = colToRow[j]!;
      if (i >= 0) result[i] = j;
    }
    return result;
  }
  const n = rows;
  const m = cols;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row (1-based) assigned to column j; p[0] is the row being added
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      const rowBase = (i0 - 1) * m;
      const ui0 = u[i0]!;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[rowBase + j - 1]! - ui0 - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  for (let j = 1; j <= m; j++) {
    const i = p[j]!;
    if (i > 0) result[i - 1] = j - 1;
  }
  return result;
}

/**
 * One-to-one matching that maximizes the total similarity of the matched pairs, keeping only pairs
 * whose similarity is at least `threshold` (pairs below it count as 0, so they never displace a
 * valid pair). `similarity` is row-major `rows × cols`. Returns [row, col, similarity] triples.
 */
export function maxSimilarityMatching(similarity: Float64Array, rows: number, cols: number, threshold: number): Array<[number, number, number]> {
  const cost = new Float64Array(rows * cols);
  let any = false;
  for (let k = 0; k < cost.length; k++) {
    const s = similarity[k]!;
    if (s >= threshold && s > 0) {
      cost[k] = -s;
      any = true;
    }
  }
  const pairs: Array<[number, number, number]> = [];
  if (!any) return pairs;
  const assignment = minCostAssignment(cost, rows, cols);
  for (let i = 0; i < rows; i++) {
    const j = assignment[i]!;
    if (j < 0) continue;
    const s = similarity[i * cols + j]!;
    if (s >= threshold && s > 0) pairs.push([i, j, s]);
  }
  return pairs;
}
