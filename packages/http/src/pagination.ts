import { badRequest } from './errors.js';

/**
 * Opaque cursors for keyset pagination: the sort key of the last row returned, base64url-encoded
 * JSON. A cursor comes back from the client, so it is input like any other: `decodeCursor` accepts
 * only exactly what `encodeCursor` wrote for that list (the same number of values, each of the kind
 * the list sorts by, in canonical form) and answers anything else with 400 `invalid_cursor` before a
 * value reaches SQL (where `'infinity'`, `2026-02-30` or a NUL would be a 500 or a wrong page).
 */
export type CursorKind = 'timestamp' | 'uuid' | 'int' | 'key';
type ValueOf<K extends CursorKind> = K extends 'int' ? number : string;
export type CursorValues<K extends readonly CursorKind[]> = { [I in keyof K]: K[I] extends CursorKind ? ValueOf<K[I]> : never };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What `Date.prototype.toISOString` writes for years 0000–9999. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Queue job ids and similar keys: printable ASCII without spaces, as our own ids are. */
const KEY = /^[\x21-\x7e]{1,256}$/;
/** A cursor is a few short values; a longer one was not written by us. */
const MAX_CURSOR_LENGTH = 512;

function valid(kind: CursorKind, value: unknown): boolean {
  switch (kind) {
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'key':
      return typeof value === 'string' && KEY.test(value);
    case 'timestamp': {
      if (typeof value !== 'string' || !ISO.test(value)) return false;
      // A round trip refuses dates that do not exist (2026-02-30 parses as March 2nd).
      const date = new Date(value);
      return !Number.isNaN(date.getTime()) && date.toISOString() === value;
    }
  }
}

function invalidCursor() {
  return badRequest('invalid_cursor', 'the cursor is not one this API returned', [{ path: 'query.cursor', message: 'invalid cursor' }]);
}

export function encodeCursor(values: (string | number | Date)[]): string {
  return Buffer.from(JSON.stringify(values.map((v) => (v instanceof Date ? v.toISOString() : v)))).toString('base64url');
}

/**
 * The values of a cursor this list wrote, or a 400 `invalid_cursor`. `kinds` names the kind of each
 * value in order (`['timestamp', 'uuid']` for lists ordered by `(created_at, id)`, `['int']` for a
 * bigint id).
 */
export function decodeCursor<const K extends readonly CursorKind[]>(cursor: string, kinds: K): CursorValues<K>;
/**
 * @deprecated name the kinds (`decodeCursor(cursor, ['timestamp', 'uuid'])`). With only a count each
 * value must still be one of the kinds in canonical form (an int, a uuid, an ISO timestamp, a key).
 */
export function decodeCursor(cursor: string, arity: number): (string | number)[];
export function decodeCursor(cursor: string, kinds: readonly CursorKind[] | number): (string | number)[] {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const arity = typeof kinds === 'number' ? kinds : kinds.length;
  if (!Array.isArray(values) || values.length !== arity) throw invalidCursor();
  const ok = values.every((v, i) =>
    typeof kinds === 'number' ? (['int', 'uuid', 'timestamp', 'key'] as const).some((k) => valid(k, v)) : valid(kinds[i]!, v),
  );
  if (!ok) throw invalidCursor();
  // Only the canonical encoding of these values is accepted, so one page has one cursor.
  if (encodeCursor(values as (string | number)[]) !== cursor) throw invalidCursor();
  return values as (string | number)[];
}

/** Splits a page fetched with limit + 1 rows into the rows to return and the next cursor. */
export function pageResult<T>(rows: T[], limit: number, cursorOf: (row: T) => (string | number | Date)[]) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}
