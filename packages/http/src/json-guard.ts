import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ErrorDetail } from '@fairlabel/contracts';
import { ApiError, badRequest } from './errors.js';

/**
 * Hostile JSON, refused before anything recursive sees it. Validation (zod), the response serializer
 * and `JSON.stringify` into Postgres recurse once per level, so 10,000 levels of nesting overflow the
 * stack (a 500 that also costs the process); Postgres refuses NUL in text and `\u0000` in jsonb (a
 * 500 from deep inside a query), and an unpaired surrogate is not text at all (it becomes U+FFFD on
 * the way to the database, silently changing the client's data). So, for every JSON body and every
 * query string and path parameter of the API:
 *
 * - nesting deeper than MAX_JSON_DEPTH is a 400 `json_too_deep`, found by scanning the raw text
 *   iteratively before it is parsed;
 * - a NUL or an unpaired surrogate in any string or object key is a 400 `invalid_text` naming the
 *   field. Nothing is stripped: a client's task data, names and answers are stored exactly as sent
 *   or not at all (stripping would change what a client signed, hashed or deduplicates on).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Where the text of a JSON document first nests deeper than `max` arrays and objects (the offset),
 * or -1. Iterative and string-aware (brackets inside strings do not count); it does not check the
 * rest of the syntax, which the parser does next.
 */
export function jsonTooDeepAt(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Why a string is not storable text, or null: a NUL, or a surrogate without its pair. */
export function badTextReason(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'contains a NUL character (\\u0000)';
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return 'contains an unpaired surrogate (not valid Unicode text)';
    } else if (c >= 0xdc00 && c <= 0xdfff) return 'contains an unpaired surrogate (not valid Unicode text)';
  }
  return null;
}

const pathOf = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`);

export interface UnsafeJson {
  code: 'json_too_deep' | 'invalid_text';
  path: string;
  message: string;
}

/**
 * The first problem of a parsed value (too deep, or a bad string or key), walked iteratively, or null.
 * For values that did not come through the guarded JSON parser (streamed imports, XML attributes).
 */
export function findUnsafeJson(value: unknown, base: string, maxDepth = MAX_JSON_DEPTH): UnsafeJson | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: base, depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const reason = badTextReason(v);
      if (reason) return { code: 'invalid_text', path, message: `${path} ${reason}` };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) return { code: 'json_too_deep', path, message: `${path} nests deeper than ${maxDepth} levels` };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: pathOf(path, i), depth: depth + 1 });
      } else {
        for (const [k, child] of Object.entries(v)) {
          const reason = badTextReason(k);
          if (reason) return { code: 'invalid_text', path: pathOf(path, k), message: `a key in ${path} ${reason}` };
          stack.push({ value: child, path: pathOf(path, k), depth: depth + 1 });
        }
      }
    }
  }
  return null;
}

export function unsafeJsonError(problem: UnsafeJson, extra: Partial<ErrorDetail> = {}): ApiError {
  return badRequest(problem.code, problem.message, [{ path: problem.path, message: problem.message, ...extra }]);
}

/** Throws the 400 for the first NUL or unpaired surrogate in a parsed value (strings and keys), if any. */
export function assertSafeText(value: unknown, base: string): void {
  const problem = findUnsafeJson(value, base, Number.POSITIVE_INFINITY);
  if (problem) throw unsafeJsonError(problem);
}

/**
 * Replaces fastify's JSON parser (the default one, keeping its `__proto__` refusal) with one that
 * refuses too-deep documents before parsing and bad text after; and refuses bad text in every query
 * string and path parameter before validation. Plugins that parse JSON themselves (streamed imports)
 * check their items with `findUnsafeJson`.
 */
export function installJsonGuard(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body: string | Buffer, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const at = jsonTooDeepAt(text);
    if (at !== -1) {
      done(badRequest('json_too_deep', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels (at character ${at})`, [{ path: 'body', message: `deeper than ${MAX_JSON_DEPTH} levels` }]), undefined);
      return;
    }
    void parseJson(request, text, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      const problem = request.routeOptions.config?.ownTextChecks ? null : findUnsafeJson(value, 'body');
      if (problem) return done(unsafeJsonError(problem), undefined);
      done(null, value);
    });
  });

  app.addHook('preValidation', async (request) => {
    assertSafeText(request.params, 'params');
    assertSafeText(request.query, 'query');
    // Bodies other parsers kept as text (Label Studio XML, the ops console's sign-in form).
    if (typeof request.body === 'string') assertSafeText(request.body, 'body');
  });
}
