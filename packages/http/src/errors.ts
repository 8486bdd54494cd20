import type { ErrorDetail } from '@fairlabel/contracts';

/**
 * An error the API answers with on purpose. Everything else that reaches the error handler is a 500
 * with its message hidden. `code` is stable and documented; `message` is for people.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string, details: ErrorDetail[] = []) => new ApiError(400, code, message, details);
export const unauthorized = (message = 'a valid API key is required: Authorization: Bearer <key>') => new ApiError(401, 'unauthorized', message);
export const forbidden = (message = 'this API key may not do that') => new ApiError(403, 'forbidden', message);
/** Also what another tenant's resource looks like: its existence is not revealed. */
export const notFound = (resource: string) => new ApiError(404, 'not_found', `${resource} not found`);
export const conflict = (code: string, message: string, details: ErrorDetail[] = []) => new ApiError(409, code, message, details);
export const unprocessable = (code: string, message: string, details: ErrorDetail[] = []) => new ApiError(422, code, message, details);
