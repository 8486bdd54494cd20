import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AGGREGATE_CSV_COLUMNS, type AggregateItemLine, type AggregateQuery, type AggregateSummaryLine, type AggregateWorkerLine } from '@fairlabel/contracts';
import { ApiError, badRequest } from '@fairlabel/http';
import { StreamingAggregator, type AggregateOutcome } from '../stream/aggregator.js';
import { readCsvRows, readNdjsonRows, type RowColumns } from './readers.js';

/**
 * POST /v1/qa/aggregate, the work between the route and the pure aggregator: read the body into a
 * StreamingAggregator (interned ids in typed columns, never the body itself), refusing at the row
 * that crosses a limit; run the method with a turn of the event loop between EM iterations; write the
 * outcome as a stream of NDJSON or CSV lines.
 */

export interface AggregateLimits {
  /** Rows per request (413 `too_many_rows`). */
  maxRows: number;
  /** Distinct labels, gold labels included (400 `too_many_labels`): these methods are for categorical answers. */
  maxLabels: number;
  /** Distinct workers (400 `too_many_workers`). */
  maxWorkers: number;
  /** one_coin / dawid_skene: items × labels posterior cells (422 `too_large_for_method`). */
  maxPosteriorCells: number;
  /** one_coin / dawid_skene: workers × labels² confusion cells (422 `too_large_for_method`). */
  maxConfusionCells: number;
  /** Aggregations running at once in one process (429 `aggregate_busy` beyond). */
  maxConcurrent: number;
}

/**
 * Sized to the issue's bar, 1M rows under 300 MB of gateway RSS (measured: README, "Aggregating your
 * own labels"): a million rows add about 100 MB to a gateway that idles near 180 MB, so the row limit
 * is the bar itself, and the EM arrays are capped so no shape of a million rows goes far past it —
 * posteriors are 8 bytes a cell (6M cells: 48 MB), confusion counts and their logs 16 bytes a cell.
 */
export const DEFAULT_AGGREGATE_LIMITS: AggregateLimits = {
  maxRows: 1_000_000,
  maxLabels: 100,
  maxWorkers: 100_000,
  maxPosteriorCells: 6_000_000,
  maxConfusionCells: 2_000_000,
  maxConcurrent: 1,
};

export type BodyFormat = 'ndjson' | 'csv';

const bodyFormats: Record<string, BodyFormat> = {
  'application/x-ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
  'text/csv': 'csv',
};

export function bodyFormatOf(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const format = bodyFormats[type];
  if (!format) {
    throw new ApiError(415, 'unsupported_media_type', `send rows as application/x-ndjson (one {"item","worker","label","gold"?} object per line) or text/csv (a header line naming the columns); got ${type ? `"${type}"` : 'no Content-Type'}`);
  }
  return format;
}

/** `format` wins; else Accept asking for text/csv (before any NDJSON type) gives CSV; else NDJSON. */
export function responseFormatOf(format: BodyFormat | undefined, accept: string | undefined): BodyFormat {
  if (format) return format;
  const types = (accept ?? '').split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  const csv = types.indexOf('text/csv');
  if (csv === -1) return 'ndjson';
  const ndjson = types.findIndex((t) => t in bodyFormats && bodyFormats[t] === 'ndjson');
  return ndjson !== -1 && ndjson < csv ? 'ndjson' : 'csv';
}

export interface AggregateRequest {
  body: Readable | undefined;
  format: BodyFormat;
  query: AggregateQuery;
  limits: AggregateLimits;
}

const usesEm = (method: AggregateQuery['method']) => method === 'one_coin' || method === 'dawid_skene';

/** Reads every row and runs the method. Throws ApiError (4xx) for the body's faults. */
export async function aggregateBody(request: AggregateRequest): Promise<AggregateOutcome> {
  const { query, limits } = request;
  if (!request.body) throw badRequest('empty_body', 'the body is empty: send rows of (item, worker, label[, gold]) as NDJSON or CSV');
  const columns: RowColumns = { item: query.item_column, worker: query.worker_column, label: query.label_column, gold: query.gold_column };
  const agg = new StreamingAggregator();
  const em = usesEm(query.method);
  let rows = 0;
  let items = 0;
  let workers = 0;
  let labels = 0;
  const onRow = (item: string, worker: string, label: string, gold: string | null, line: number) => {
    if (rows >= limits.maxRows) {
      throw new ApiError(413, 'too_many_rows', `line ${line}: more than ${limits.maxRows} rows; split the answers (e.g. by project) into several requests`, [
        { path: `line ${line}`, message: `row ${rows + 1} is over the limit of ${limits.maxRows}`, line },
      ]);
    }
    agg.push({ item, worker, label, gold });
    rows++;
    // Sizes only grow, so a limit is refused at the first row that crosses it.
    const sizes = agg.sizes;
    if (sizes.labels !== labels) {
      labels = sizes.labels;
      if (labels > limits.maxLabels) {
        throw badRequest('too_many_labels', `line ${line}: more than ${limits.maxLabels} distinct labels; these methods aggregate categorical answers (choices), not free text`, [
          { path: `line ${line}`, message: `label ${labels} of at most ${limits.maxLabels}`, line },
        ]);
      }
    }
    if (sizes.workers !== workers) {
      workers = sizes.workers;
      if (workers > limits.maxWorkers) {
        throw badRequest('too_many_workers', `line ${line}: more than ${limits.maxWorkers} distinct workers`, [{ path: `line ${line}`, message: `worker ${workers} of at most ${limits.maxWorkers}`, line }]);
      }
    }
    items = sizes.items;
    if (em) {
      const K = Math.max(2, labels);
      if (items * K > limits.maxPosteriorCells || workers * K * K > limits.maxConfusionCells) {
        throw new ApiError(
          422,
          'too_large_for_method',
          `line ${line}: ${items} items, ${workers} workers and ${labels} labels are more than ${query.method} is run on here (items × labels ≤ ${limits.maxPosteriorCells}, workers × labels² ≤ ${limits.maxConfusionCells}); majority and accuracy_weighted have no such limit`,
          [{ path: `line ${line}`, message: 'over the size limit of the method', line }],
        );
      }
    }
  };
  if (request.format === 'ndjson') await readNdjsonRows(request.body, columns, onRow);
  else await readCsvRows(request.body, columns, onRow);
  if (rows === 0) throw badRequest('empty_body', 'the body has no rows: send rows of (item, worker, label[, gold]) as NDJSON or CSV');
  const trust = { minGold: query.min_gold, untrustedBelow: query.untrusted_below };
  return agg.runAsync(query.method, { trust, dawidSkene: { maxIterations: query.max_iterations, maxCells: Number.MAX_SAFE_INTEGER } }, () => nextTurn());
}

/** The outcome as NDJSON or CSV text, in chunks of about this many characters (so no chunk is large). */
const CHUNK_CHARS = 64 * 1024;

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function summaryLine(outcome: AggregateOutcome, goldItems: number): AggregateSummaryLine {
  return {
    type: 'summary',
    method: outcome.method,
    rows: outcome.rows,
    items: outcome.items,
    workers: outcome.workers,
    labels: [...outcome.labels],
    gold_items: goldItems,
    gold_conflicts: outcome.goldConflicts,
    duplicate_answers: outcome.duplicateAnswers,
    iterations: outcome.iterations ?? null,
    converged: outcome.converged ?? null,
  };
}

function* workerLines(outcome: AggregateOutcome): Generator<AggregateWorkerLine> {
  for (const w of outcome.workerOutcomes()) {
    yield { type: 'worker', worker: w.worker, accuracy: round(w.accuracy), answers: w.answers, gold_total: w.goldTotal, gold_correct: w.goldCorrect, trusted: w.trusted };
  }
}

function* itemLines(outcome: AggregateOutcome): Generator<AggregateItemLine> {
  for (const i of outcome.itemOutcomes()) {
    yield { type: 'item', item: i.item, label: i.label, confidence: round(i.confidence), agreement: round(i.agreement), answers: i.answers, gold: i.gold };
  }
}

function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function* ndjsonText(outcome: AggregateOutcome): Generator<string> {
  let goldItems = 0;
  for (const i of outcome.itemOutcomes()) if (i.gold !== null) goldItems++;
  yield `${JSON.stringify(summaryLine(outcome, goldItems))}\n`;
  for (const w of workerLines(outcome)) yield `${JSON.stringify(w)}\n`;
  for (const i of itemLines(outcome)) yield `${JSON.stringify(i)}\n`;
}

function* csvText(outcome: AggregateOutcome): Generator<string> {
  yield `${AGGREGATE_CSV_COLUMNS.join(',')}\r\n`;
  for (const w of workerLines(outcome)) {
    yield `worker,${csvCell(w.worker)},,,,${w.answers},,${w.accuracy},${w.gold_total},${w.gold_correct},${w.trusted}\r\n`;
  }
  for (const i of itemLines(outcome)) {
    yield `item,${csvCell(i.item)},${csvCell(i.label)},${i.confidence},${i.agreement},${i.answers},${csvCell(i.gold)},,,,\r\n`;
  }
}

/**
 * The response body: lines joined into chunks of about CHUNK_CHARS, produced only as the socket takes
 * them (Readable.from pulls on demand), so a million items never exist as one string.
 */
export function outcomeStream(outcome: AggregateOutcome, format: BodyFormat): Readable {
  const lines = format === 'ndjson' ? ndjsonText(outcome) : csvText(outcome);
  function* chunks(): Generator<string> {
    let chunk = '';
    for (const line of lines) {
      chunk += line;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  return Readable.from(chunks(), { objectMode: false });
}
