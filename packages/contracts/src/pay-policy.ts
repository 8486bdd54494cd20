import { z } from 'zod';
import { MAX_PRICE_MINOR } from './common.js';

/**
 * The largest single amount settlement posts, in minor units: 10^12 (ten billion of a two-decimal
 * currency). Equal to ST_MAX_AMOUNT in packages/db/src/sql-constants.ts, which the ledger's CHECK
 * enforces; it bounds every rate here so a sum of postings stays far from bigint's range.
 */
export const MAX_POSTING_MINOR = 1_000_000_000_000;

/** A rate is a price like the job's (at most MAX_PRICE_MINOR), so rate x level multiplier stays within one posting. */
const rate = z.number().int().min(0).max(MAX_PRICE_MINOR);

/**
 * A job's pay terms beyond `pay_per_annotation` and `client_price_per_item`, in minor units of the
 * job's currency. Fixed once the job leaves draft, like the other prices: work was done under them.
 * Settlement reads it when it posts; null means "the default named".
 */
export const payPolicySchema = z
  .strictObject({
    review_rate: rate.nullable().default(null).describe('Paid to a reviewer per completed review. null: the job’s pay_per_annotation.'),
    verify_rate: rate
      .nullable()
      .default(null)
      .describe('Paid per accepted verification of a model prediction (× the level multiplier, like an annotation). null: pay_per_annotation.'),
    automation_price: rate
      .nullable()
      .default(null)
      .describe('Charged to the client per item a model decided with no human. null: client_price_per_item.'),
    rejected_pay_bp: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(0)
      .describe('Share of an annotation’s pay (basis points: 10000 = all of it) paid when QA rejects it. Default 0: rejected work is not paid.'),
  })
  .meta({ id: 'PayPolicy' });
export type PayPolicy = z.infer<typeof payPolicySchema>;

export const defaultPayPolicy: PayPolicy = { review_rate: null, verify_rate: null, automation_price: null, rejected_pay_bp: 0 };
