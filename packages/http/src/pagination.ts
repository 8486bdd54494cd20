import { badRequest } from './errors.js';

/**
 * Opaque cursors for keyset pagination: the sort key of the last row returned, base64url-encoded.
 * Lists order by (created_at, id) or by a single increasing id.
 */
export function encodeCursor(values: (string | number | Date)[]): string {
  return Buffer.from(JSON.stringify(values.map((v) => (v instanceof Date ? v.toISOString() : v)))).toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(values) && values.length === arity && values.every((v) => typeof v === 'string' || typeof v === 'number')) {
      return values as (string | number)[];
    }
  } catch {
    /* fall through */
  }
  throw badRequest('invalid_cursor', 'the cursor is not one this API returned', [{ path: 'query.cursor', message: 'invalid cursor' }]);
}

/** Splits a page fetched with limit + 1 rows into the rows to return and the next cursor. */
export function pageResult<T>(rows: T[], limit: number, cursorOf: (row: T) => (string | number | Date)[]) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}
