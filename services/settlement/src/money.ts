/**
 * Money in JavaScript is BigInt minor units. Sums come out of SQL as text (`sum(amount)::text`), so no
 * figure passes through a float or a JS number that could exceed 2^53; single amounts are bounded by
 * MAX_POSTING_MINOR (10^12) and are safe as numbers.
 */
export function big(value: string | number | bigint | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`money value ${value} is not a safe integer`);
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value)) throw new RangeError(`money value ${JSON.stringify(value)} is not an integer`);
  return BigInt(value);
}

/** The wire form of money: a decimal string of minor units. */
export function money(value: string | number | bigint | null | undefined): string {
  return big(value).toString();
}

export function sum(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

/** a / b rounded toward negative infinity (BigInt division truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** a / b rounded up, for non-negative a and positive b. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/**
 * Splits `total` (>= 0) in proportion to `weights` (>= 0, not all 0) into whole minor units that sum to
 * exactly `total`: each gets the floor of its share, and the units left go to the largest remainders
 * (ties to the earlier index) — Hamilton's method, so no cent is created or lost.
 */
export function allocate(total: bigint, weights: bigint[]): bigint[] {
  const weightSum = sum(weights);
  if (total < 0n) throw new RangeError('allocate: total must not be negative');
  if (weightSum <= 0n) throw new RangeError('allocate: weights must have a positive sum');
  const shares = weights.map((w) => (total * w) / weightSum);
  let left = total - sum(shares);
  const order = weights
    .map((w, i) => ({ i, rem: (total * w) % weightSum }))
    .sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (left === 0n) break;
    shares[i]! += 1n;
    left -= 1n;
  }
  return shares;
}

/** ISO 4217 minor-unit exponents that are not 2 (JPY has no minor unit, KWD has three). */
const EXPONENTS: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};
export function minorExponent(currency: string): number {
  return EXPONENTS[currency] ?? 2;
}

/** Minor units as a decimal amount of the currency ("-1234" USD -> "-12.34"), for payment files. */
export function toMajor(minor: bigint, currency: string): string {
  const exp = minorExponent(currency);
  if (exp === 0) return minor.toString();
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exp + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

/** A positive decimal string ("0.0119") as an exact fraction. */
export function decimalFraction(text: string): { num: bigint; den: bigint } {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal: ${text}`);
  const frac = m[2] ?? '';
  return { num: BigInt(`${m[1]}${frac}`), den: 10n ** BigInt(frac.length) };
}

/**
 * An amount in minor units of `from` converted to minor units of `to` at `rate` (1 from = rate to),
 * rounded up: used for pay floors, where rounding must never lower the floor.
 */
export function convertUp(minor: bigint, from: string, to: string, rate: string): bigint {
  const { num, den } = decimalFraction(rate);
  const scaleTo = 10n ** BigInt(minorExponent(to));
  const scaleFrom = 10n ** BigInt(minorExponent(from));
  return ceilDiv(minor * num * scaleTo, den * scaleFrom);
}
