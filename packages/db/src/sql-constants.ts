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
  /**
   * The advisory lock every ledger write takes (st_ledger_lock): writers take turns, so ids and
   * posted_at grow together and a pay run or invoice can cut the ledger at a time by one id.
   */
  ST_LEDGER_LOCK: 7_270_012,
  /** The largest amount of one posting, in minor units (10^12: ten billion of a two-decimal currency). */
  ST_MAX_AMOUNT: 1_000_000_000_000,
} as const satisfies Record<string, number | string>;

export type SqlConstantName = keyof typeof sqlConstants;
