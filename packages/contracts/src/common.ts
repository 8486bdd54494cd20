import { z } from 'zod';

/** bigint ids (tasks, assignments) travel as decimal strings in paths and as numbers in bodies. */
export const numericIdParam = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a positive integer id').transform(Number);

export const idParamsSchema = z.object({ id: z.uuid() });

/** `?cursor=&limit=` on every list endpoint. The cursor is opaque to clients. */
export const pageQuerySchema = z.object({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page.'),
  });
}

export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code, e.g. USD');
/** Money in minor units (cents, paise...): an integer, never a float. */
export const minorUnitsSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/**
 * The largest price a job may set (pay per annotation, client price per item, the pay policy's rates):
 * 10^10 minor units (100 million of a two-decimal currency). Times the highest level multiplier it
 * stays far under settlement's largest posting (10^12), and any sum of such amounts the API reports is
 * computed as a bigint and sent as a decimal string, so no total overflows.
 */
export const MAX_PRICE_MINOR = 10_000_000_000;
export const priceMinorSchema = z.number().int().min(0).max(MAX_PRICE_MINOR);
/** A sum of money in minor units as a decimal string: totals can pass 2^53. */
export const minorUnitsTotalSchema = z.string().regex(/^-?\d{1,22}$/);
export const countryCodeSchema = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code, e.g. IN');

/** Timestamps in responses: Date objects from Postgres, serialised as ISO 8601 strings (`format: date-time`). */
export const timestampSchema = z.date();
