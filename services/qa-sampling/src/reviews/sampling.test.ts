import { describe, expect, it } from 'vitest';
import { sampledForReview } from './sampling.js';

// The sample is a pure function of (job, assignment): its rate is a property of sha256, checked here
// over 10,000 submissions per rate; the consumer test checks that exactly these submissions get reviews.
describe('review sampling', () => {
  const job = '7b0c6a3e-2f4d-4c1e-9a53-0d7e1c2b3a41';
  const ids = Array.from({ length: 10_000 }, (_, i) => 1_000_000 + i);

  for (const rate of [0.01, 0.1, 0.25, 0.5]) {
    it(`samples ${rate * 100}% of 10,000 submissions within 4 standard deviations`, () => {
      const n = ids.filter((id) => sampledForReview(job, id, rate)).length;
      const sd = Math.sqrt(ids.length * rate * (1 - rate));
      console.log(`rate ${rate}: ${n} of ${ids.length} sampled (expected ${ids.length * rate} ± ${(4 * sd).toFixed(0)})`);
      expect(Math.abs(n - ids.length * rate)).toBeLessThan(4 * sd);
    });
  }

  it('is reproducible, seeded by the job, and takes none at 0 and all at 1', () => {
    const first = ids.filter((id) => sampledForReview(job, id, 0.1));
    expect(ids.filter((id) => sampledForReview(job, id, 0.1))).toEqual(first);
    const other = ids.filter((id) => sampledForReview('0f1e2d3c-4b5a-4968-8776-655443322110', id, 0.1));
    // Two jobs' samples are independent: they share about rate² of the ids, not the same set.
    const shared = other.filter((id) => first.includes(id)).length;
    expect(shared).toBeLessThan(first.length / 2);
    expect(ids.filter((id) => sampledForReview(job, id, 0))).toEqual([]);
    expect(ids.filter((id) => sampledForReview(job, id, 1))).toHaveLength(ids.length);
  });
});
