import { describe, expect, it } from 'vitest';
import { cohortRates, gini, median, normalCdf, twoProportionTest } from './fair-pay.stats.js';
import { effectiveHourly } from './floors.js';
import { allocate, convertUp, toMajor } from './money.js';

describe('fair-pay statistics, against hand-computed values', () => {
  it('Gini', () => {
    expect(gini([])).toBeNull();
    expect(gini([0n, 0n])).toBeNull();
    expect(gini([5n, 5n, 5n, 5n])).toBe(0);
    // One of four earns everything: (n-1)/n.
    expect(gini([0n, 0n, 0n, 100n])).toBeCloseTo(0.75, 12);
    // [2000, 2600, 4000]: Σ(2i-n-1)x = -4000 + 0 + 8000 = 4000; / (3 · 8600).
    expect(gini([4000n, 2000n, 2600n])).toBeCloseTo(4000 / 25800, 12);
    // A negative net earning counts as 0.
    expect(gini([-50n, 100n])).toBeCloseTo(0.5, 12);
  });

  it('the normal CDF and the two-proportion z-test', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 6);
    // 30/100 vs 10/100: pooled 0.2, se = sqrt(0.2·0.8·0.02) = 0.0565685, z = 0.2/0.0565685 = 3.5355.
    const t = twoProportionTest(30, 100, 10, 100)!;
    expect(t.z).toBeCloseTo(3.535534, 5);
    expect(t.p).toBeCloseTo(0.000407, 5);
    expect(twoProportionTest(0, 10, 0, 10)).toBeNull();
    expect(twoProportionTest(1, 0, 0, 10)).toBeNull();
  });

  it('a cohort rejected far more often than the rest stands out (Bonferroni over the cohorts)', () => {
    const rows = cohortRates([
      { cohort: '1', count: 100, events: 10 },
      { cohort: '3', count: 100, events: 12 },
      { cohort: '5', count: 100, events: 40 },
    ]);
    expect(rows.map((r) => [r.cohort, r.stands_out])).toEqual([
      ['1', false],
      ['3', false],
      ['5', true],
    ]);
    expect(rows[2]!.rate).toBe(0.4);
    expect(rows[2]!.rest_rate).toBe(0.11);
  });

  it('median keeps money whole', () => {
    expect(median([])).toBeNull();
    expect(median([4000n, 5200n, 4000n])).toBe(4000n);
    expect(median([1n, 2n, 3n, 4n])).toBe(2n);
  });
});

describe('money', () => {
  it('allocates a total by weights without losing or creating a unit', () => {
    expect(allocate(4000n, [1_800_000n, 1_800_000n])).toEqual([2000n, 2000n]);
    expect(allocate(10n, [1n, 1n, 1n])).toEqual([4n, 3n, 3n]);
    expect(allocate(1n, [1n, 2n])).toEqual([0n, 1n]);
    expect(allocate(0n, [5n, 0n])).toEqual([0n, 0n]);
  });

  it('converts floors up, across minor-unit exponents, and writes decimals', () => {
    // 8000 paise/h at 0.0119 USD per INR: 80 INR = 0.952 USD = 95.2 cents -> 96.
    expect(convertUp(8000n, 'INR', 'USD', '0.0119')).toBe(96n);
    // 1000 cents USD at 150 JPY: 10 USD = 1500 yen (JPY has no minor unit).
    expect(convertUp(1000n, 'USD', 'JPY', '150')).toBe(1500n);
    expect(toMajor(-1234n, 'USD')).toBe('-12.34');
    expect(toMajor(5n, 'KWD')).toBe('0.005');
    expect(toMajor(1500n, 'JPY')).toBe('1500');
    expect(effectiveHourly(4000n, 3_600_000n)).toBe(4000n);
    expect(effectiveHourly(2600n, 1_800_000n)).toBe(5200n);
  });
});
