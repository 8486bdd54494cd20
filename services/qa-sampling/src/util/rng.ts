/**
 * A small seeded PRNG (mulberry32: 32-bit state, passes the usual smoke tests for simulation use)
 * for reproducible synthetic jobs in tests and benchmarks. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(rnd: () => number, n: number): number {
  return Math.floor(rnd() * n);
}
