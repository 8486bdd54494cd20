import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CsvError, parse as parseCsv } from 'csv-parse';
import { ApiError, badRequest } from '@fairlabel/http';

/**
 * The body readers of POST /v1/qa/aggregate. Each reads a streamed body (NDJSON or CSV) and hands
 * every row to `onRow` as it is parsed, holding one chunk at a time; the first bad line ends the
 * read with a 400 naming it. `onRow` may throw too (a limit), which ends the read the same way.
 */

/** Where each field of a row is: NDJSON keys or CSV header names. */
export interface RowColumns {
  item: string;
  worker: string;
  label: string;
  gold: string;
}

export type OnRow = (item: string, worker: string, label: string, gold: string | null, line: number) => void;

/** A row is four short strings: a longer line is a mistake (a wrong file), not a row. */
export const MAX_LINE_CHARS = 64 * 1024;
/** Ids and labels are at most this long (interned once each, but a label set of paragraphs is not categorical). */
export const MAX_FIELD_CHARS = 512;

const lineDetail = (line: number, message: string) => [{ path: `line ${line}`, message, line }];

export function invalidRow(line: number, message: string): ApiError {
  return badRequest('invalid_row', `line ${line}: ${message}`, lineDetail(line, message));
}

function malformed(line: number, message: string): ApiError {
  return badRequest('malformed_body', `line ${line}: ${message}`, lineDetail(line, message));
}

/** A field as a string: strings as given, numbers and booleans as JSON writes them (ids are often numbers). */
function fieldText(value: unknown, name: string, line: number, allowBoolean: boolean): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (allowBoolean && typeof value === 'boolean') text = String(value);
  else if (value === undefined || value === null) throw invalidRow(line, `missing "${name}"`);
  else throw invalidRow(line, `"${name}" must be a string${allowBoolean ? ', number or boolean' : ' or number'}, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  return checkedText(text, name, line);
}

function checkedText(text: string, name: string, line: number): string {
  if (text.length === 0) throw invalidRow(line, `"${name}" is empty`);
  if (text.length > MAX_FIELD_CHARS) throw invalidRow(line, `"${name}" is longer than ${MAX_FIELD_CHARS} characters`);
  return text;
}

/** One NDJSON object → a row. `gold` absent, null or "" means not gold. */
function ndjsonRow(value: unknown, columns: RowColumns, line: number, onRow: OnRow): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRow(line, `expected an object {"${columns.item}", "${columns.worker}", "${columns.label}"${columns.gold ? `, "${columns.gold}"?` : ''}}`);
  }
  const v = value as Record<string, unknown>;
  const item = fieldText(v[columns.item], columns.item, line, false);
  const worker = fieldText(v[columns.worker], columns.worker, line, false);
  const label = fieldText(v[columns.label], columns.label, line, true);
  const g = v[columns.gold];
  const gold = g === undefined || g === null || g === '' ? null : fieldText(g, columns.gold, line, true);
  onRow(item, worker, label, gold, line);
}

/**
 * NDJSON: one JSON object per line; blank lines are skipped (and counted); a UTF-8 BOM is ignored.
 * Returns the number of lines read.
 */
export async function readNdjsonRows(body: AsyncIterable<Buffer | string>, columns: RowColumns, onRow: OnRow): Promise<number> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  let first = true;
  const emit = (text: string) => {
    line++;
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.length > MAX_LINE_CHARS) throw malformed(line, `longer than ${MAX_LINE_CHARS} characters`);
    // Whitespace-only lines (also \r of CRLF files) are skipped; JSON.parse tolerates the \r of a row.
    if (!/\S/.test(text)) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw malformed(line, 'not valid JSON (one JSON object per line; a truncated line?)');
    }
    ndjsonRow(value, columns, line, onRow);
  };
  for await (const chunk of body) {
    const text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      emit(text.slice(start, nl));
      start = nl + 1;
    }
    pending = text.slice(start);
    if (pending.length > MAX_LINE_CHARS) throw malformed(line + 1, `longer than ${MAX_LINE_CHARS} characters`);
  }
  pending += decoder.end();
  if (pending !== '') emit(pending);
  return line;
}

/**
 * CSV with a header line naming the columns (any order; other columns, as in an MTurk batch file, are
 * ignored). An empty gold cell means not gold. Quoted fields may hold commas, quotes and newlines;
 * line numbers are those of the file. Returns the number of lines read.
 */
export async function readCsvRows(body: Readable, columns: RowColumns, onRow: OnRow): Promise<number> {
  const parser = parseCsv({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_LINE_CHARS });
  body.on('error', (err) => parser.destroy(err));
  body.pipe(parser);
  let at: { item: number; worker: number; label: number; gold: number } | null = null;
  let lines = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      lines = info.lines;
      if (!at) {
        const header = record.map((h) => h.trim());
        const index = (name: string) => header.indexOf(name);
        const missing = [columns.item, columns.worker, columns.label].filter((c) => index(c) === -1);
        if (missing.length) {
          throw badRequest(
            'invalid_csv_header',
            `line ${info.lines}: the CSV header has no column ${missing.map((m) => `"${m}"`).join(', ')} (it has ${header.map((h) => `"${h}"`).join(', ')}); name the columns with item_column, worker_column, label_column`,
            lineDetail(info.lines, `missing ${missing.join(', ')}`),
          );
        }
        at = { item: index(columns.item), worker: index(columns.worker), label: index(columns.label), gold: index(columns.gold) };
        continue;
      }
      const line = info.lines;
      const cell = (i: number, name: string) => {
        const v = record[i];
        if (v === undefined) throw invalidRow(line, `has ${record.length} fields: no "${name}" column`);
        return v;
      };
      const item = checkedText(cell(at.item, columns.item), columns.item, line);
      const worker = checkedText(cell(at.worker, columns.worker), columns.worker, line);
      const label = checkedText(cell(at.label, columns.label), columns.label, line);
      const g = at.gold >= 0 ? (record[at.gold] ?? '') : '';
      onRow(item, worker, label, g === '' ? null : checkedText(g, columns.gold, line), line);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // csv-parse's errors (unclosed quote, a record over max_record_size) are the body's fault.
    if (err instanceof CsvError) throw malformed((err as { lines?: number }).lines ?? lines + 1, `the CSV cannot be parsed: ${err.message}`);
    throw err;
  } finally {
    body.unpipe(parser);
    parser.destroy();
  }
  if (!at) throw badRequest('empty_body', 'the CSV body is empty: it needs a header line and at least one row', lineDetail(1, 'no header'));
  return lines;
}
