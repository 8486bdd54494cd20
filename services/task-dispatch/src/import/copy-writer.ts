import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { needsOneVerifier, type TaskSlots } from '../task-slots.js';
import type { StagedRow } from './validation.js';

/** Rows, and bytes, gathered before one COPY: large enough that per-statement cost vanishes, small enough to hold twice. */
const BATCH_ROWS = 5000;
const BATCH_BYTES = 2 * 1024 * 1024;
/** A batch buffer: room for BATCH_BYTES plus the row that crosses it. */
const BATCH_BUFFER_BYTES = 4 * 1024 * 1024;

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

const TASK_COLUMNS =
  'job_id, external_id, payload, priority, prediction, prediction_confidence, prediction_model, gold, predictions, prior_annotations, image_sizes, required_annotations';

/** Where a batch goes once the job has duplicates: a temporary table with the columns COPY writes. */
const CREATE_STAGING = `
  CREATE TEMP TABLE IF NOT EXISTS import_staging (
    job_id uuid, external_id text, payload jsonb, priority integer, prediction jsonb,
    prediction_confidence real, prediction_model text, gold jsonb, predictions jsonb, prior_annotations jsonb, image_sizes jsonb,
    required_annotations smallint
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
export class BatchWriter {
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
  /** Ends a row: its required_annotations, the job's overlap... */
  private readonly suffix: string;
  /** ...or one, for a task whose prediction a human only has to confirm (task-slots.ts). */
  private readonly verifySuffix = '\t1\n';
  constructor(
    private readonly client: pg.PoolClient,
    jobId: string,
    private readonly slots: TaskSlots,
  ) {
    this.buffer = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
    this.spare = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
    this.prefix = `${jobId}\t`;
    this.suffix = `\t${slots.overlap}\n`;
  }

  async push(r: StagedRow): Promise<void> {
    const suffix = needsOneVerifier(r, this.slots) ? this.verifySuffix : this.suffix;
    const line = `${this.prefix}${copyText(r.externalId)}\t${copyJson(r.payload)}\t${r.priority}\t${copyJson(r.prediction)}\t${r.confidence ?? '\\N'}\t${copyText(r.model)}\t${copyJson(r.gold)}\t${copyJson(r.predictions)}\t${copyJson(r.priorAnnotations)}\t${copyJson(r.imageSizes)}${suffix}`;
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
