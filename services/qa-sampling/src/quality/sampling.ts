import { createHash } from 'node:crypto';

/**
 * Seeded, reproducible review sampling: a submission is sampled when the uniform number derived
 * from sha256(seed, assignment id) is below the job's rate. The same seed and id always give the
 * same answer, on any replica, after any restart, with no state to store; a different seed per job
 * keeps the samples of two jobs independent.
 */
export function uniformFromKey(seed: string, key: string): number {
  const h = createHash('sha256').update(seed).update('\u0000').update(key).digest();
  // 53 bits: every double in [0, 1) on the 2^-53 grid is reachable, none twice.
  return (h.readUInt32BE(0) * 2 ** 21 + (h.readUInt32BE(4) >>> 11)) / 2 ** 53;
}

export function shouldReview(seed: string, assignmentId: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return uniformFromKey(seed, assignmentId) < rate;
}
