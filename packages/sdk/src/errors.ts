import type { components } from './generated/openapi.js';

/** The one error shape of the API: `{ "error": { "code", "message", "details" } }`. */
export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = ErrorBody['error']['details'][number];

/**
 * Every non-2xx answer of the API, thrown by every SDK call. `code` is the API's stable machine-readable
 * code (`validation_failed`, `lease_expired`, …); `status` 0 with code `unreachable` means no answer came
 * (connection refused, DNS, reset).
 */
export class FairlabelError extends Error {
  override readonly name = 'FairlabelError';
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];
  /** Seconds from `Retry-After` (429, 503), else null. */
  readonly retryAfter: number | null;
  readonly method: string;
  readonly url: string;

  constructor(init: { status: number; code: string; message: string; details?: ErrorDetail[]; retryAfter?: number | null; method: string; url: string; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.retryAfter = init.retryAfter ?? null;
    this.method = init.method;
    this.url = init.url;
  }

  /** One line for a terminal: `409 lease_expired: the lease expired at … (POST /v1/assignments/7/submit)`. */
  describe(): string {
    const where = `${this.method} ${new URL(this.url).pathname}`;
    const details = this.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
    return `${this.status ? `${this.status} ` : ''}${this.code}: ${this.message} (${where})${details.length ? `\n  ${details.join('\n  ')}` : ''}`;
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

/** Reads a non-2xx response into a FairlabelError (a body not in the one shape keeps its status and text). */
export async function errorFromResponse(method: string, url: string, response: Response): Promise<FairlabelError> {
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const retry = Number(response.headers.get('retry-after'));
  const retryAfter = response.headers.has('retry-after') && Number.isFinite(retry) ? retry : null;
  if (isErrorBody(body)) {
    return new FairlabelError({ status: response.status, code: body.error.code, message: body.error.message, details: body.error.details ?? [], retryAfter, method, url });
  }
  return new FairlabelError({
    status: response.status,
    code: `http_${response.status}`,
    message: text.trim().slice(0, 300) || response.statusText || 'no body',
    retryAfter,
    method,
    url,
  });
}

export function unreachable(method: string, url: string, cause: unknown): FairlabelError {
  const reason = (cause as { cause?: { code?: string; message?: string } })?.cause;
  const why = reason?.code ?? reason?.message ?? (cause instanceof Error ? cause.message : String(cause));
  return new FairlabelError({ status: 0, code: 'unreachable', message: `could not reach ${new URL(url).origin} (${why})`, method, url, cause });
}
