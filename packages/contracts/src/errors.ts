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
