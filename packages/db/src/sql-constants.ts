/**
 * Numbers that SQL files and TypeScript must agree on, defined here only. A SQL file names one as a
 * placeholder, `${WA_CLAIM_BATCH}`, replaced by its value when the file is applied (Flyway's
 * placeholders); TypeScript imports it. The value is part of the applied text, so changing a number
 * here changes the checksum of every file that uses it, and the next `pnpm migrate` re-applies them.
 */
export const sqlConstants = {
  /** How many candidate jobs one probe of the claim looks at (`wa_claim_candidates` returns at most this many). */
  WA_CLAIM_BATCH: 8,
  /**
   * How far down the hinted job order a claim probes, WA_CLAIM_BATCH jobs at a time, before it
   * searches every active job. The claim service sends at most this many hinted job ids.
   */
  WA_HINTED_JOBS: 32,
} as const satisfies Record<string, number | string>;

export type SqlConstantName = keyof typeof sqlConstants;
