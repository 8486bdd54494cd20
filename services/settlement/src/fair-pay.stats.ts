/**
 * Statistics of the fair-pay report, pure and exact where money is involved: sums are BigInt; only
 * the final ratios are floats.
 */

/**
 * Gini coefficient of non-negative amounts (a negative net earning counts as 0): with x sorted
 * ascending and i = 1..n, G = Σ (2i − n − 1)·x_i / (n · Σ x). 0 when everyone earns the same, (n−1)/n
 * when one person earns everything. null for no one, or when nobody earned anything.
 */
export function gini(amounts: bigint[]): number | null {
  const xs = amounts.map((a) => (a < 0n ? 0n : a)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = BigInt(xs.length);
  if (n === 0n) return null;
  let total = 0n;
  let weighted = 0n;
  xs.forEach((x, idx) => {
    total += x;
    weighted += (2n * BigInt(idx + 1) - n - 1n) * x;
  });
  if (total === 0n) return null;
  // Both fit comfortably in a double's range; the ratio is the only float.
  return Number(weighted) / Number(n * total);
}

/** Standard normal CDF, from erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Two-proportion z-test (pooled): is x1/n1 different from x2/n2? Returns z and the two-sided p-value;
 * null when a group is empty or the pooled proportion is 0 or 1 (no variance to test against).
 */
export function twoProportionTest(x1: number, n1: number, x2: number, n2: number): { z: number; p: number } | null {
  if (n1 === 0 || n2 === 0) return null;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return null;
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

export interface CohortCount {
  cohort: string;
  count: number;
  events: number;
}

/**
 * Each cohort's rate against everyone else's, with a two-proportion z-test; a cohort stands out when
 * its rate is above the rest and p < 0.05 / (number of cohorts) (Bonferroni: with many vendors, some
 * would cross 0.05 by chance alone).
 */
export function cohortRates(cohorts: CohortCount[]) {
  const totalCount = cohorts.reduce((s, c) => s + c.count, 0);
  const totalEvents = cohorts.reduce((s, c) => s + c.events, 0);
  const alpha = 0.05 / Math.max(1, cohorts.length);
  return cohorts.map((c) => {
    const restCount = totalCount - c.count;
    const restEvents = totalEvents - c.events;
    const test = twoProportionTest(c.events, c.count, restEvents, restCount);
    const rate = c.count > 0 ? c.events / c.count : null;
    const restRate = restCount > 0 ? restEvents / restCount : null;
    return {
      cohort: c.cohort,
      count: c.count,
      events: c.events,
      rate,
      rest_rate: restRate,
      z: test?.z ?? null,
      p_value: test?.p ?? null,
      stands_out: test !== null && rate !== null && restRate !== null && rate > restRate && test.p < alpha,
    };
  });
}

/** The median of sorted-or-not BigInts (the lower middle for an even count: money stays whole). */
export function median(values: bigint[]): bigint | null {
  if (values.length === 0) return null;
  const xs = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return xs[Math.floor((xs.length - 1) / 2)]!;
}
