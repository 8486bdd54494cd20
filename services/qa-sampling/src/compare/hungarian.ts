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
  const candidates: Array<[number, number, number]> = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const s = similarity[i * cols + j]!;
      if (s >= threshold && s > 0) candidates.push([i, j, s]);
    }
  }
  return matchCandidates(candidates, rows, cols);
}

/** Components larger than this (rows × cols) are matched greedily by similarity instead. */
const MAX_DENSE_CELLS = 40_000;

/**
 * The same matching from a sparse list of candidate pairs [row, col, similarity > 0]. The bipartite
 * graph of candidates is split into connected components (union-find) and each is solved on its
 * own dense matrix: objects that overlap nothing in common never share a matrix, so a thousand boxes
 * in clusters of three cost a thousand 3×3 problems, not one 1000×1000 one. A component above
 * MAX_DENSE_CELLS (pathological: hundreds of mutually overlapping objects) is matched greedily by
 * descending similarity, which is within a factor of 2 of the optimum.
 */
export function matchCandidates(candidates: ReadonlyArray<readonly [number, number, number]>, rows: number, cols: number): Array<[number, number, number]> {
  if (candidates.length === 0) return [];
  // Nodes: rows are 0..rows-1, columns rows..rows+cols-1.
  const parent = new Int32Array(rows + cols);
  for (let k = 0; k < parent.length; k++) parent[k] = k;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (const [i, j] of candidates) {
    const a = find(i);
    const b = find(rows + j);
    if (a !== b) parent[a] = b;
  }
  const groups = new Map<number, Array<readonly [number, number, number]>>();
  for (const c of candidates) {
    const root = find(c[0]);
    const g = groups.get(root);
    if (g) g.push(c);
    else groups.set(root, [c]);
  }
  const out: Array<[number, number, number]> = [];
  for (const group of groups.values()) {
    if (group.length === 1) {
      const [i, j, s] = group[0]!;
      out.push([i, j, s]);
      continue;
    }
    const rowIds = [...new Set(group.map((c) => c[0]))];
    const colIds = [...new Set(group.map((c) => c[1]))];
    if (rowIds.length * colIds.length > MAX_DENSE_CELLS) {
      const usedR = new Set<number>();
      const usedC = new Set<number>();
      for (const [i, j, s] of [...group].sort((p, q) => q[2] - p[2])) {
        if (usedR.has(i) || usedC.has(j)) continue;
        usedR.add(i);
        usedC.add(j);
        out.push([i, j, s]);
      }
      continue;
    }
    const rIndex = new Map(rowIds.map((r, k) => [r, k]));
    const cIndex = new Map(colIds.map((c, k) => [c, k]));
    const n = rowIds.length;
    const m = colIds.length;
    const cost = new Float64Array(n * m);
    const sim = new Float64Array(n * m);
    for (const [i, j, s] of group) {
      const at = rIndex.get(i)! * m + cIndex.get(j)!;
      cost[at] = -s;
      sim[at] = s;
    }
    const assignment = minCostAssignment(cost, n, m);
    for (let r = 0; r < n; r++) {
      const c = assignment[r]!;
      if (c >= 0 && sim[r * m + c]! > 0) out.push([rowIds[r]!, colIds[c]!, sim[r * m + c]!]);
    }
  }
  out.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return out;
}
