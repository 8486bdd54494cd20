import type { Readable } from 'node:stream';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import type { ImportResult, TaskTypeName } from '@fairlabel/contracts';
import type { Database, JobStatus } from '@fairlabel/db';
import { badRequest, conflict, notFound, unprocessable } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import { looksLikeLabelStudioTask } from './label-studio.js';
import { BatchWriter } from './import/copy-writer.js';
import { labelStudioToItem } from './import/label-studio-tasks.js';
import { csvItems, jsonArrayItems, MalformedBody, ndjsonItems, type ItemError } from './import/readers.js';
import { isObject, ItemValidator, type StagedRow } from './import/validation.js';

/**
 * A task import: the body read by the reader of its format (import/readers.ts, import/label-studio-tasks.ts),
 * each item checked (import/validation.ts) and COPYed into tasks in batches (import/copy-writer.ts), in one
 * transaction.
 */

export type ImportFormat = 'json' | 'ndjson' | 'csv' | 'labelstudio';

/** Errors listed in a response; the rest are only counted. */
export const MAX_LISTED_ERRORS = 100;

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
