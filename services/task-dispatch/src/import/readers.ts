import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CsvError, parse as parseCsv } from 'csv-parse';
import streamArray from 'stream-json/streamers/stream-array.js';
import { ApiError, badRequest } from '@fairlabel/http';

/**
 * The body readers of a task import: each turns a streamed body into items with their line numbers,
 * holding one item at a time. What an item means (a fairlabel item, a Label Studio task) is decided
 * after them, by the orchestration in import.service.ts.
 */

/** One NDJSON line (one item) may not be larger than this: a body without newlines must not fill memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface RawItem {
  /** NDJSON/CSV: line in the body; JSON arrays: the item's 1-based position. */
  line: number;
  value?: unknown;
  error?: string;
}

export interface ItemError {
  line: number;
  external_id?: string;
  message: string;
}

/** A JSON syntax error or a body that is no list at all: nothing after it can be trusted. */
export class MalformedBody extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export async function* ndjsonItems(body: AsyncIterable<Buffer | string>): AsyncGenerator<RawItem> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  let oversized = false;
  const emit = (text: string): RawItem | null => {
    line++;
    if (text.trim() === '') return null;
    try {
      return { line, value: JSON.parse(text) };
    } catch {
      return { line, error: 'not valid JSON (a truncated line?)' };
    }
  };
  for await (const chunk of body) {
    const text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      if (oversized) {
        line++;
        oversized = false;
        yield { line, error: `line longer than ${MAX_LINE_BYTES} bytes` };
      } else {
        const item = emit(text.slice(start, nl));
        if (item) yield item;
      }
      start = nl + 1;
    }
    pending = text.slice(start);
    if (pending.length > MAX_LINE_BYTES) {
      oversized = true;
      pending = '';
    }
  }
  pending += decoder.end();
  if (oversized) yield { line: line + 1, error: `line longer than ${MAX_LINE_BYTES} bytes` };
  else if (pending !== '') {
    // The last line has no newline: fine if it is a whole item, an error on that line if it was cut.
    const item = emit(pending);
    if (item) yield item;
  }
}

/** A JSON body that is one object (one item, or one Label Studio task) is read whole, up to this size. */
export const MAX_OBJECT_BYTES = 64 * 1024 * 1024;

const linesIn = (text: string) => {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
};

/**
 * A JSON body: an array of items (streamed, one item at a time), or a single object (one item, as
 * Label Studio accepts one task). Anything else is a 400 naming the line: a body that is not JSON
 * (CSV sent as JSON), several JSON values (NDJSON sent as JSON), an array cut short.
 */
export async function* jsonItems(body: Readable): AsyncGenerator<RawItem> {
  const decoder = new StringDecoder('utf8');
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const decode = (chunk: Buffer | string) => (typeof chunk === 'string' ? chunk : decoder.write(chunk));
  let head = '';
  let ended = false;
  // \s also matches a byte-order mark, so a BOM is skipped like whitespace.
  while (!/\S/.test(head)) {
    const next = await chunks.next();
    if (next.done) {
      head += decoder.end();
      ended = true;
      break;
    }
    head += decode(next.value);
  }
  const at = head.search(/\S/);
  if (at === -1) throw new MalformedBody('the body is empty: send a JSON array of items, or one item as a JSON object', 1);
  const line = 1 + linesIn(head.slice(0, at));
  const first = head[at];
  if (first === '{') {
    let text = head;
    while (!ended) {
      const next = await chunks.next();
      if (next.done) break;
      text += decode(next.value);
      if (text.length > MAX_OBJECT_BYTES) {
        throw new ApiError(413, 'body_too_large', `a body that is one JSON object is at most ${MAX_OBJECT_BYTES} bytes; send several items as a JSON array or NDJSON (application/x-ndjson)`);
      }
    }
    if (!ended) text += decoder.end();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      const position = /position (\d+)/.exec(message);
      const errorLine = position ? 1 + linesIn(text.slice(0, Number(position[1]))) : 1 + linesIn(text.trimEnd());
      if (/after JSON/.test(message)) {
        throw new MalformedBody(`the body holds more than one JSON value (line ${errorLine}): send one item per line as application/x-ndjson, or a JSON array`, errorLine);
      }
      throw new MalformedBody(`the body is not valid JSON, or is cut short (line ${errorLine}): ${message.split('\n')[0]}`, errorLine);
    }
    yield { line: 1, value };
    return;
  }
  if (first !== '[') {
    throw new MalformedBody(`the body is not JSON: line ${line} starts with ${JSON.stringify(first)} (CSV? send Content-Type text/csv)`, line);
  }
  yield* jsonArrayItems(head, ended ? null : chunks, decode, () => decoder.end());
}

/**
 * The items of a JSON array, streamed through stream-json. The body is fed to the parser a line at a
 * time, each write awaited, so a syntax error is known to be on the line being written: reported
 * with that line, the way NDJSON and CSV errors are.
 */
async function* jsonArrayItems(head: string, chunks: AsyncIterator<Buffer | string> | null, decode: (c: Buffer | string) => string, end: () => string): AsyncGenerator<RawItem> {
  const items = streamArray.withParserAsStream();
  let line = 1;
  let failedAt: number | null = null;
  const feed = (piece: string) =>
    new Promise<void>((resolve, reject) => {
      items.write(piece, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  const write = async (text: string) => {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      await feed(text.slice(start, nl + 1));
      line++;
      start = nl + 1;
    }
    if (start < text.length) await feed(text.slice(start));
  };
  const pump = (async () => {
    await write(head);
    if (chunks) {
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) await write(decode(next.value));
      const rest = end();
      if (rest) await write(rest);
    }
    items.end();
  })().catch((err: unknown) => {
    failedAt ??= line;
    items.destroy(err as Error);
  });
  let position = 0;
  try {
    for await (const entry of items as AsyncIterable<{ key: number; value: unknown }>) {
      position = entry.key + 1;
      yield { line: position, value: entry.value };
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    const at = failedAt ?? line;
    throw new MalformedBody(`the body is not a JSON array of items, or is cut short (line ${at}, after ${position} items): ${(err as Error).message}`, at);
  } finally {
    items.destroy();
    await pump;
  }
}

/** CSV columns with a meaning; every other column is a field of the item's data. */
const csvReserved = new Set(['external_id', 'priority', 'gold', 'prediction', 'prediction_confidence', 'prediction_model']);

export async function* csvItems(body: Readable): AsyncGenerator<RawItem> {
  const parser = parseCsv({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_LINE_BYTES });
  body.pipe(parser);
  body.on('error', (err) => parser.destroy(err));
  let header: string[] | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = record.map((h) => h.trim());
        const seen = new Set<string>();
        for (const h of header) {
          if (h === '') throw badRequest('invalid_csv_header', 'the CSV header has an empty column name', [{ path: 'line 1', message: 'empty column name' }]);
          if (seen.has(h)) throw badRequest('invalid_csv_header', `the CSV header names column "${h}" twice`, [{ path: 'line 1', message: `duplicate column ${h}` }]);
          seen.add(h);
        }
        if (!header.some((h) => !csvReserved.has(h))) {
          throw badRequest('invalid_csv_header', 'the CSV header has no data column (every column besides external_id, priority, gold and prediction* becomes a field of the item)', [
            { path: 'line 1', message: 'no data column' },
          ]);
        }
        continue;
      }
      if (record.length !== header.length) {
        const missing = header.slice(record.length);
        yield {
          line: info.lines,
          error:
            record.length < header.length
              ? `has ${record.length} fields, the header has ${header.length}: missing ${missing.join(', ')}`
              : `has ${record.length} fields, the header has only ${header.length}`,
        };
        continue;
      }
      yield { line: info.lines, value: csvRecordToItem(header, record) };
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // csv-parse's errors (codes like INVALID_OPENING_QUOTE, CSV_RECORD_INCONSISTENT_FIELDS_LENGTH) are the body's fault.
    if (err instanceof CsvError) throw new MalformedBody(`the CSV cannot be parsed: ${err.message}`, (err as { lines?: number }).lines ?? 0);
    throw err;
  }
  if (!header) throw badRequest('invalid_csv_header', 'the CSV body is empty: it needs a header line', [{ path: 'line 1', message: 'no header' }]);
}

function csvRecordToItem(header: string[], record: string[]): Record<string, unknown> | { csvError: string } {
  const item: Record<string, unknown> = {};
  const data: Record<string, string> = {};
  const prediction: Record<string, unknown> = {};
  for (let i = 0; i < header.length; i++) {
    const column = header[i]!;
    const cell = record[i]!;
    if (!csvReserved.has(column)) {
      data[column] = cell;
      continue;
    }
    if (cell === '') continue;
    try {
      if (column === 'external_id') item.external_id = cell;
      else if (column === 'priority') item.priority = Number(cell);
      else if (column === 'gold') item.gold = JSON.parse(cell);
      else if (column === 'prediction') prediction.answer = JSON.parse(cell);
      else if (column === 'prediction_confidence') prediction.confidence = Number(cell);
      else if (column === 'prediction_model') prediction.model_version = cell;
    } catch {
      return { csvError: `column ${column} must hold JSON` };
    }
  }
  item.data = data;
  if (Object.keys(prediction).length) item.prediction = prediction;
  return item;
}
