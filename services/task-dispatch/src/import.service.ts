import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import streamArray from 'stream-json/streamers/stream-array.js';
import {
  answerSchemaFor,
  importItemSchema,
  issuesOf,
  type AnswerContext,
  type ImportResult,
  type TaskTypeName,
} from '@fairlabel/contracts';
import type { Database, JobStatus } from '@fairlabel/db';
import { ApiError, badRequest, conflict, notFound, unprocessable } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import type { z } from 'zod';
import { answerFromLabelStudio, looksLikeLabelStudioTask } from './label-studio.js';

export type ImportFormat = 'json' | 'ndjson' | 'csv' | 'labelstudio';

/** Errors listed in a response; the rest are only counted. */
export const MAX_LISTED_ERRORS = 100;
/** One NDJSON line (one item) may not be larger than this: a body without newlines must not fill memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;
/** Rows, and bytes, gathered before one COPY: large enough that per-statement cost vanishes, small enough to hold twice. */
const BATCH_ROWS = 5000;
const BATCH_BYTES = 2 * 1024 * 1024;
/** A batch buffer: room for BATCH_BYTES plus the row that crosses it. */
const BATCH_BUFFER_BYTES = 4 * 1024 * 1024;

interface RawItem {
  /** NDJSON/CSV: line in the body; JSON arrays: the item's 1-based position. */
  line: number;
  value?: unknown;
  error?: string;
}

interface ItemError {
  line: number;
  external_id?: string;
  message: string;
}

/** A JSON syntax error or a body that is no list at all: nothing after it can be trusted. */
class MalformedBody extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

// ---- readers: each turns the body into items with their line numbers, holding one item at a time ----

async function* ndjsonItems(body: AsyncIterable<Buffer | string>): AsyncGenerator<RawItem> {
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

async function* jsonArrayItems(body: Readable): AsyncGenerator<RawItem> {
  const items = streamArray.withParserAsStream();
  body.pipe(items);
  body.on('error', (err) => items.destroy(err));
  let position = 0;
  try {
    for await (const entry of items as AsyncIterable<{ key: number; value: unknown }>) {
      position = entry.key + 1;
      yield { line: position, value: entry.value };
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || body.destroyed) throw err;
    // Items are read ahead of this loop, so the count is where reading got to, not where the error is.
    throw new MalformedBody(`the body is not a JSON array of items, or is cut short (read ${position} items): ${(err as Error).message}`, position + 1);
  }
}

/** CSV columns with a meaning; every other column is a field of the item's data. */
const csvReserved = new Set(['external_id', 'priority', 'gold', 'prediction', 'prediction_confidence', 'prediction_model']);

async function* csvItems(body: Readable): AsyncGenerator<RawItem> {
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
    const code = (err as { code?: string }).code;
    if (code?.startsWith('CSV_')) throw new MalformedBody(`the CSV cannot be parsed: ${(err as Error).message}`, (err as { lines?: number }).lines ?? 0);
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

// ---- one item -> one staged row ----

interface StagedRow {
  externalId: string | null;
  payload: string;
  priority: number;
  prediction: string | null;
  confidence: number | null;
  model: string | null;
  gold: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelStudioToItem(task: unknown, taskType: TaskTypeName): { item: unknown } | { error: string } {
  if (!isObject(task) || !isObject(task.data)) return { error: 'a Label Studio task needs a `data` object' };
  const item: Record<string, unknown> = { data: task.data };
  const id = task.external_id ?? task.id;
  if (typeof id === 'string' || typeof id === 'number') item.external_id = String(id);
  const predictions = Array.isArray(task.predictions) ? task.predictions : [];
  const first = predictions[0];
  if (isObject(first)) {
    const converted = answerFromLabelStudio(taskType, first.result, task.data);
    if ('error' in converted) return { error: `predictions.0: ${converted.error}` };
    item.prediction = {
      answer: converted.answer,
      ...(typeof first.score === 'number' ? { confidence: first.score } : {}),
      ...(typeof first.model_version === 'string' ? { model_version: first.model_version } : {}),
    };
  }
  // A ground-truth annotation is Label Studio's way of saying "gold".
  const annotations = Array.isArray(task.annotations) ? task.annotations : [];
  const truth = annotations.find((a) => isObject(a) && a.ground_truth === true) as Record<string, unknown> | undefined;
  if (truth) {
    const converted = answerFromLabelStudio(taskType, truth.result, task.data);
    if ('error' in converted) return { error: `annotations (ground truth): ${converted.error}` };
    item.gold = converted.answer;
  }
  return { item };
}

type ItemSchema = z.infer<typeof importItemSchema>;

/** No NUL characters: Postgres text and jsonb cannot store them, and one would fail the whole batch. */
const hasNul = (s: string) => s.includes('\u0000') || s.includes('\\u0000');

const plainItemKeys = new Set(['external_id', 'data', 'priority']);

/**
 * The common item, `{external_id?, data, priority?}`, checked by hand: the schema walk costs about
 * half as much again as JSON.parse, and a million-item import pays it per item. Anything else
 * (or anything this does not accept) goes through importItemSchema, which words the errors.
 */
function plainItem(value: unknown): StagedRow | null {
  if (!isObject(value)) return null;
  for (const key in value) if (!plainItemKeys.has(key)) return null;
  const { external_id: externalId, data, priority } = value;
  if (externalId !== undefined && (typeof externalId !== 'string' || externalId.length < 1 || externalId.length > 200 || hasNul(externalId))) return null;
  if (!isObject(data)) return null;
  if (priority !== undefined && (!Number.isInteger(priority) || Math.abs(priority as number) > 1_000_000)) return null;
  const payload = JSON.stringify(data);
  if (hasNul(payload)) return null;
  return { externalId: externalId ?? null, payload, priority: (priority as number | undefined) ?? 0, prediction: null, confidence: null, model: null, gold: null };
}

class ItemValidator {
  private readonly plainAnswer: z.ZodType;
  constructor(
    private readonly taskType: TaskTypeName,
    private readonly labelConfig: unknown,
  ) {
    this.plainAnswer = answerSchemaFor(taskType, labelConfig);
  }

  /** Box and span bounds depend on the item (its image size, its text); other checks do not. */
  private answerSchema(data: Record<string, unknown>): z.ZodType {
    const context: AnswerContext = {};
    if (this.taskType === 'bounding_boxes' && typeof data.image_width === 'number' && typeof data.image_height === 'number') {
      context.image_width = data.image_width;
      context.image_height = data.image_height;
    }
    if (this.taskType === 'text_spans' && typeof data.text === 'string') context.text_length = data.text.length;
    return Object.keys(context).length ? answerSchemaFor(this.taskType, this.labelConfig, context) : this.plainAnswer;
  }

  check(value: unknown): StagedRow | { error: string; externalId?: string } {
    const plain = plainItem(value);
    if (plain) return plain;
    const parsed = importItemSchema.safeParse(value);
    if (!parsed.success) {
      const externalId = isObject(value) && typeof value.external_id === 'string' ? value.external_id : undefined;
      return { error: issuesOf(parsed.error).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), ...(externalId ? { externalId } : {}) };
    }
    const item: ItemSchema = parsed.data;
    const fail = (error: string) => ({ error, ...(item.external_id !== undefined ? { externalId: item.external_id } : {}) });
    if (item.data && item.payload) return fail('give `data` or `payload`, not both');
    const data = item.data ?? item.payload;
    if (!data) return fail('data: the item needs a `data` object (what workers see)');
    if (item.external_id !== undefined && hasNul(item.external_id)) return fail('external_id: contains a NUL character');
    let gold: string | null = null;
    let prediction: string | null = null;
    const answers = this.answerSchema(data);
    if (item.gold !== undefined && item.gold !== null) {
      const g = answers.safeParse(item.gold);
      if (!g.success) return fail(`gold is not a valid answer for this job: ${issuesOf(g.error).map((i) => `${i.path || '(answer)'}: ${i.message}`).join('; ')}`);
      gold = JSON.stringify(g.data);
    }
    if (item.prediction) {
      const p = answers.safeParse(item.prediction.answer);
      if (!p.success) return fail(`prediction.answer is not a valid answer for this job: ${issuesOf(p.error).map((i) => `${i.path || '(answer)'}: ${i.message}`).join('; ')}`);
      prediction = JSON.stringify(p.data);
    }
    const payload = JSON.stringify(data);
    if (hasNul(payload)) return fail('data: contains a NUL character, which cannot be stored');
    const model = item.prediction?.model_version ?? null;
    if (model !== null && hasNul(model)) return fail('prediction.model_version: contains a NUL character');
    return {
      externalId: item.external_id ?? null,
      payload,
      priority: item.priority ?? 0,
      prediction,
      confidence: item.prediction?.confidence ?? null,
      model,
      gold,
    };
  }
}

// ---- batched, pipelined writes ----

const needsTextEscape = /[\\\t\n\r]/;
/** A text value in COPY text format. */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return needsTextEscape.test(value) ? value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : value;
}
/** JSON text has no raw tabs or newlines (JSON.stringify escapes them), only backslashes to double. */
function copyJson(value: string | null): string {
  if (value === null) return '\\N';
  return value.includes('\\') ? value.replace(/\\/g, '\\\\') : value;
}

const TASK_COLUMNS = 'job_id, external_id, payload, priority, prediction, prediction_confidence, prediction_model, gold, required_annotations';

/** Where a batch goes once the job has duplicates: a temporary table with the columns COPY writes. */
const CREATE_STAGING = `
  CREATE TEMP TABLE IF NOT EXISTS import_staging (
    job_id uuid, external_id text, payload jsonb, priority integer, prediction jsonb,
    prediction_confidence real, prediction_model text, gold jsonb, required_annotations smallint
  ) ON COMMIT DROP`;
/** Moves the staged batch into tasks, skipping known external_ids (and ones repeated within the batch). */
const INSERT_STAGED_SKIPPING_DUPLICATES = `
  WITH staged AS (DELETE FROM import_staging RETURNING *)
  INSERT INTO tasks (${TASK_COLUMNS}) SELECT ${TASK_COLUMNS} FROM staged
  ON CONFLICT (job_id, external_id) DO NOTHING`;

/**
 * Writes rows in batches, keeping one batch in flight while the next is parsed so Node and Postgres
 * work at once (constant memory: two batch buffers).
 *
 * Each row is encoded in COPY text format straight into a preallocated buffer, so a row's strings die
 * as soon as it is encoded. Holding a batch of row objects instead kept them alive across young-generation
 * collections; promoted to the old generation, a million of them made the heap saw between 200 and 300 MB.
 *
 * Each batch is COPYed into tasks inside a savepoint, the cheapest write Postgres has. The first batch
 * that hits a known external_id (unique violation) is rolled back to its savepoint, and it and every later
 * batch are COPYed into a temporary table and moved into tasks with INSERT ... ON CONFLICT DO NOTHING,
 * which skips duplicates and counts them.
 */
class BatchWriter {
  private buffer: Buffer;
  /** The buffer of the batch in flight; reused for the batch after next. */
  private spare: Buffer;
  private used = 0;
  private rows = 0;
  private inFlight: Promise<void> | null = null;
  private duplicatesSeen = false;
  /** A savepoint is opened ahead of each COPY batch; the one opened after the last batch is committed with the transaction. */
  private savepointOpen = false;
  written = 0;
  created = 0;
  private readonly prefix: string;
  private readonly suffix: string;
  constructor(
    private readonly client: pg.PoolClient,
    jobId: string,
    requiredAnnotations: number,
  ) {
    this.buffer = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
    this.spare = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
    this.prefix = `${jobId}\t`;
    this.suffix = `\t${requiredAnnotations}\n`;
  }

  async push(r: StagedRow): Promise<void> {
    const line = `${this.prefix}${copyText(r.externalId)}\t${copyJson(r.payload)}\t${r.priority}\t${copyJson(r.prediction)}\t${r.confidence ?? '\\N'}\t${copyText(r.model)}\t${copyJson(r.gold)}${this.suffix}`;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit, so this bound needs no byte count.
    if (this.used + line.length * 3 > this.buffer.length) {
      await this.flush();
      // A row larger than a whole buffer is sent on its own.
      if (line.length * 3 > this.buffer.length) {
        await this.send(Buffer.from(line, 'utf8'), 1);
        this.written++;
        return;
      }
    }
    this.used += this.buffer.write(line, this.used, 'utf8');
    this.rows++;
    this.written++;
    if (this.rows >= BATCH_ROWS || this.used >= BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.rows) return;
    const batch = this.buffer.subarray(0, this.used);
    const rows = this.rows;
    await this.inFlight;
    // The previous batch is written, so its buffer is free for the next one.
    [this.buffer, this.spare] = [this.spare, this.buffer];
    this.used = 0;
    this.rows = 0;
    this.inFlight = this.write(batch, rows);
    // Surfaced by the next flush or by end(); this only keeps it from being reported as unhandled meanwhile.
    this.inFlight.catch(() => {});
  }

  /** Sends one oversized row as its own batch, after the batch in flight. */
  private async send(batch: Buffer, rows: number): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
    await this.write(batch, rows);
  }

  private async copy(table: string, batch: Buffer): Promise<void> {
    await pipeline(Readable.from([batch]), this.client.query(copyFrom(`COPY ${table} (${TASK_COLUMNS}) FROM STDIN`)));
  }

  private async write(batch: Buffer, rows: number): Promise<void> {
    if (!this.duplicatesSeen) {
      if (!this.savepointOpen) await this.client.query('SAVEPOINT import_batch');
      this.savepointOpen = true;
      try {
        await this.copy('tasks', batch);
        // One round trip: keep this batch and open the next batch's savepoint.
        await this.client.query('RELEASE SAVEPOINT import_batch; SAVEPOINT import_batch');
        this.created += rows;
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err;
        await this.client.query(`ROLLBACK TO SAVEPOINT import_batch; RELEASE SAVEPOINT import_batch; ${CREATE_STAGING}`);
        this.savepointOpen = false;
        this.duplicatesSeen = true;
      }
    }
    await this.copy('import_staging', batch);
    const r = await this.client.query(INSERT_STAGED_SKIPPING_DUPLICATES);
    this.created += r.rowCount ?? 0;
  }

  async end(): Promise<void> {
    await this.flush();
    await this.inFlight;
  }

  /** Waits for the write in flight (its error no longer matters) so the connection is idle again. */
  async abandon(): Promise<void> {
    await this.inFlight?.catch(() => {});
  }
}

// ---- the import ----

export interface ImportRequest {
  pool: pg.Pool;
  clientId: string;
  jobId: string;
  body: Readable;
  /** Explicit format; otherwise `contentFormat`, with JSON arrays of Label Studio tasks recognised by shape. */
  format?: ImportFormat | undefined;
  contentFormat: Exclude<ImportFormat, 'labelstudio'>;
  onError: 'reject' | 'skip';
}

export function assertJobAcceptsTasks(status: JobStatus): void {
  if (status === 'completed' || status === 'cancelled') {
    throw conflict('job_closed', `tasks cannot be added to a ${status} job`, [{ path: 'status', message: `current status: ${status}`, current_status: status }]);
  }
}

/**
 * Streams the body into `tasks` in batches (see BatchWriter), all in one transaction: `reject` rolls back when any item was bad, duplicates (known external_ids, or
 * repeated in the body) are skipped by the unique (job_id, external_id) constraint and counted. The job row is share-locked for the import,
 * so it cannot be cancelled or completed underneath it.
 */
export async function importTasks(req: ImportRequest): Promise<ImportResult> {
  const client = await req.pool.connect();
  // A Kysely bound to this one connection, so publish() writes its outbox row in the same transaction as the inserts.
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: { connect: async () => ({ query: client.query.bind(client), release: () => {} }) as unknown as pg.PoolClient, end: async () => {} },
    }),
  });
  try {
    return await db.transaction().execute(async (trx) => {
      const job = await trx
        .selectFrom('jobs')
        .select(['id', 'client_id', 'status', 'task_type', 'label_config', 'overlap'])
        .where('id', '=', req.jobId)
        .where('client_id', '=', req.clientId)
        .forShare()
        .executeTakeFirst();
      if (!job) throw notFound('job');
      assertJobAcceptsTasks(job.status);
      const inserter = new BatchWriter(client, job.id, job.overlap);
      const outcome = await stageItems(req, job.task_type, job.label_config, inserter).catch(async (err) => {
        await inserter.abandon();
        throw err;
      });
      await inserter.end().catch(async (err) => {
        await inserter.abandon();
        throw err;
      });
      if (outcome.rejected > 0 && req.onError === 'reject') {
        throw unprocessable(
          'import_rejected',
          `${outcome.rejected} of ${outcome.received} items are invalid; nothing was imported (send ?on_error=skip to import the valid ones)`,
          outcome.errors.map((e) => ({ path: `line ${e.line}`, line: e.line, message: e.message, ...(e.external_id ? { external_id: e.external_id } : {}) })),
        );
      }
      const created = inserter.created;
      if (created > 0) await publish(trx as Transaction<Database>, 'tasks.imported', { job_id: job.id, client_id: job.client_id, created });
      return {
        job_id: job.id,
        format: outcome.format,
        received: outcome.received,
        created,
        duplicates: inserter.written - created,
        rejected: outcome.rejected,
        errors: outcome.errors,
        errors_truncated: outcome.rejected > outcome.errors.length,
      };
    });
  } catch (err) {
    if (err instanceof MalformedBody) {
      throw badRequest('malformed_body', err.message, [{ path: `line ${err.line}`, line: err.line, message: err.message }]);
    }
    // Postgres refusing a value the checks above let through (e.g. an unpaired surrogate in JSON).
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('22')) {
      throw badRequest('invalid_item', `an item holds a value the database cannot store: ${(err as Error).message}`);
    }
    throw err;
  } finally {
    client.release();
    await db.destroy();
  }
}

async function stageItems(req: ImportRequest, taskType: TaskTypeName, labelConfig: unknown, writer: BatchWriter) {
  const validator = new ItemValidator(taskType, labelConfig);
  const errors: ItemError[] = [];
  let rejected = 0;
  let received = 0;
  let format: ImportFormat = req.format ?? req.contentFormat;
  const source =
    format === 'ndjson' ? ndjsonItems(req.body) : format === 'csv' ? csvItems(req.body) : jsonArrayItems(req.body);
  const explicit = req.format !== undefined;
  for await (const raw of source) {
    received++;
    if (received === 1 && !explicit && format === 'json' && looksLikeLabelStudioTask(raw.value)) format = 'labelstudio';
    let outcome: StagedRow | { error: string; externalId?: string };
    if (raw.error !== undefined) outcome = { error: raw.error };
    else if (isObject(raw.value) && typeof raw.value.csvError === 'string') outcome = { error: raw.value.csvError };
    else if (format === 'labelstudio') {
      const converted = labelStudioToItem(raw.value, taskType);
      outcome = 'error' in converted ? { error: converted.error } : validator.check(converted.item);
    } else outcome = validator.check(raw.value);
    if ('error' in outcome) {
      rejected++;
      if (errors.length < MAX_LISTED_ERRORS) errors.push({ line: raw.line, message: outcome.error, ...(outcome.externalId ? { external_id: outcome.externalId } : {}) });
      continue;
    }
    // Once a rejecting import has a bad item nothing will be kept; keep reading only to report errors.
    if (rejected > 0 && req.onError === 'reject') continue;
    await writer.push(outcome);
  }
  return { format, received, rejected, errors };
}
