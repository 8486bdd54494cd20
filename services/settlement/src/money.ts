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
