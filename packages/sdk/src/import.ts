import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Fairlabel, Schemas } from './client.js';

export type ImportResult = Schemas['ImportResult'];
/** How the body is read: by its Content-Type, or Label Studio tasks sent as JSON or NDJSON. */
export type BodyFormat = 'json' | 'ndjson' | 'csv';

export interface ImportProgress {
  /** Bytes of the body sent so far (pulled by the connection, so it follows the upload). */
  bytes: number;
  /** Items sent so far, counted in the bytes sent (JSON array elements, NDJSON lines, CSV records). */
  rows: number;
  /** The body's size when known (a file), else null. */
  totalBytes: number | null;
  elapsedMs: number;
  /** True on the last event, once the whole body is sent. */
  done: boolean;
}

export interface ImportOptions {
  /** How the body is written; `importFile` takes it from the extension (.json, .ndjson/.jsonl, .csv). */
  format: BodyFormat;
  /** Read the items as Label Studio tasks (also recognised from their shape without it). */
  labelStudio?: boolean;
  /** `reject` (default): import nothing when any item is bad (a 422 `import_rejected`); `skip`: import the good ones. */
  onError?: 'reject' | 'skip';
  /** A retry with the same key replays the first answer instead of importing again. */
  idempotencyKey?: string;
  /** Called as the body is sent (after every chunk) and once more with `done: true`. */
  onProgress?: (progress: ImportProgress) => void;
  /** The body's size in bytes, when known, for `totalBytes`. */
  totalBytes?: number;
  signal?: AbortSignal;
}

const contentTypes: Record<BodyFormat, string> = { json: 'application/json', ndjson: 'application/x-ndjson', csv: 'text/csv' };

/**
 * Counts the items in a body as its bytes go by, without parsing it: JSON array elements (objects at
 * depth 1, or one for a single object), non-blank NDJSON lines, CSV records after the header (quoted
 * newlines stay inside their record). Works on bytes: every byte it looks at is ASCII, and no byte of a
 * multi-byte UTF-8 character is.
 */
export class RowCounter {
  rows = 0;
  #depth = 0;
  /** The byte that opened the top-level value: `[` (a list of items) or `{` (one item). */
  #top = 0;
  #inString = false;
  #escaped = false;
  #lineHasContent = false;
  #records = 0;

  constructor(readonly format: BodyFormat) {}

  push(chunk: Uint8Array): void {
    if (this.format === 'json') this.#json(chunk);
    else this.#lines(chunk);
  }

  /** The end of the body: a last line without a newline still counts. */
  end(): void {
    if (this.format !== 'json' && this.#lineHasContent) this.#record();
    this.#lineHasContent = false;
  }

  #json(chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === 0x5c /* \ */) this.#escaped = true;
        else if (byte === 0x22 /* " */) this.#inString = false;
        continue;
      }
      if (byte === 0x22) this.#inString = true;
      else if (byte === 0x7b /* { */ || byte === 0x5b /* [ */) {
        if (this.#depth === 0) this.#top = byte;
        else if (this.#depth === 1 && this.#top === 0x5b && byte === 0x7b) this.rows++;
        this.#depth++;
      } else if (byte === 0x7d /* } */ || byte === 0x5d /* ] */) {
        this.#depth--;
        // A single object as the whole body is one item.
        if (this.#depth === 0 && this.#top === 0x7b) this.rows++;
      }
    }
  }

  #lines(chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (this.format === 'csv' && byte === 0x22) this.#inString = !this.#inString;
      if (byte === 0x0a /* \n */ && !this.#inString) {
        if (this.#lineHasContent) this.#record();
        this.#lineHasContent = false;
      } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) this.#lineHasContent = true;
    }
  }

  #record(): void {
    this.#records++;
    // A CSV's first record is its header.
    this.rows = this.format === 'csv' ? Math.max(0, this.#records - 1) : this.#records;
  }
}

export type ImportSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | string;

async function* chunksOf(source: ImportSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string') yield new TextEncoder().encode(source);
  else if (source instanceof Uint8Array) yield source;
  else yield* source;
}

/**
 * Streams `source` to `POST /v1/jobs/{id}/tasks`, reporting bytes and rows as they are sent, and
 * resolves with the import report (or throws the FairlabelError: 422 `import_rejected`, 409 `job_closed`…).
 * The body is never held in memory whole.
 */
export async function importTasks(fl: Fairlabel, jobId: string, source: ImportSource, options: ImportOptions): Promise<ImportResult> {
  const counter = new RowCounter(options.format);
  const started = performance.now();
  let bytes = 0;
  const report = (done: boolean) =>
    options.onProgress?.({ bytes, rows: counter.rows, totalBytes: options.totalBytes ?? null, elapsedMs: performance.now() - started, done });
  const chunks = chunksOf(source);
  // A pull stream: the next chunk is read only when the connection takes one, so bytes follow the upload.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) {
        counter.end();
        report(true);
        controller.close();
        return;
      }
      const chunk = next.value;
      bytes += chunk.byteLength;
      counter.push(chunk);
      report(false);
      controller.enqueue(chunk);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  const response = await fl.request('POST', `/v1/jobs/${encodeURIComponent(jobId)}/tasks`, {
    query: { on_error: options.onError, format: options.labelStudio ? 'labelstudio' : undefined },
    headers: { 'content-type': contentTypes[options.format], ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}) },
    body,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return (await response.json()) as ImportResult;
}

/** The body format a file's extension says: .json, .ndjson/.jsonl, .csv (undefined otherwise). */
export function formatOfFile(path: string): BodyFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  if (ext === '.csv') return 'csv';
  return undefined;
}

/** `importTasks` from a file, streamed in 256 KiB reads, with its size as `totalBytes` and its format from its extension unless given. */
export async function importFile(
  fl: Fairlabel,
  jobId: string,
  path: string,
  options: Omit<ImportOptions, 'format' | 'totalBytes'> & { format?: BodyFormat } = {},
): Promise<ImportResult> {
  const format = options.format ?? formatOfFile(path);
  if (!format) throw new Error(`cannot tell the format of ${path} from its extension: give format json, ndjson or csv`);
  const { size } = await stat(path);
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  try {
    return await importTasks(fl, jobId, file, { ...options, format, totalBytes: size });
  } finally {
    file.destroy();
  }
}
