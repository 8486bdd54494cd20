import { z } from 'zod';

/** The one error shape of every non-2xx response: `{ error: { code, message, details } }`. */
export const errorDetailSchema = z
  .object({
    /** Where the problem is: a body/query/params field path, a line number of an import, a header. */
    path: z.string().optional(),
    message: z.string(),
  })
  .catchall(z.unknown());

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. `validation_failed`, `lease_expired`.'),
      message: z.string(),
      details: z.array(errorDetailSchema).default([]),
    }),
  })
  .meta({ id: 'Error' });

export type ErrorBody = z.infer<typeof errorBodySchema>;
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

/**
 * The error responses a route documents: the ones any authenticated route can give (400 invalid
 * input, 401, 403, 404 — also for another tenant's resource —, 429 rate limited and 503
 * `database_unavailable` with Retry-After during a database outage) plus the route's own (409, 413,
 * 415, 422...). All share the one error shape.
 */
export function errorResponses(...routeSpecific: number[]): Record<number, typeof errorBodySchema> {
  return Object.fromEntries([400, 401, 403, 404, 429, 503, ...routeSpecific].map((status) => [status, errorBodySchema]));
}
