import type { Readable } from 'node:stream';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import { parseLabelConfig, type ImportResult } from '@fairlabel/contracts';
import type { Database, JobStatus } from '@fairlabel/db';
import { badRequest, conflict, findUnsafeJson, notFound, unprocessable } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import { BatchWriter } from './import/copy-writer.js';
import { labelStudioToItem, looksLikeFlatTask, looksLikeLabelStudioTask, type PartCounts } from './import/label-studio-tasks.js';
import { csvItems, jsonItems, MalformedBody, ndjsonItems, type ItemError } from './import/readers.js';
import { isObject, ItemValidator, type StagedRow } from './import/validation.js';
import { taskSlotsOf } from './task-slots.js';

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
  /**
   * Explicit format. `json`, `ndjson`, `csv` choose the reader; `labelstudio` reads the body as its
   * Content-Type says (a JSON array or object, or NDJSON) and each item as a Label Studio task.
   * Without it: `contentFormat`, with Label Studio tasks recognised by the first item's shape.
   */
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
        .select(['id', 'client_id', 'status', 'task_type', 'label_config', 'overlap', 'qa_policy'])
        .where('id', '=', req.jobId)
        .where('client_id', '=', req.clientId)
        .forShare()
        .executeTakeFirst();
      if (!job) throw notFound('job');
      assertJobAcceptsTasks(job.status);
      const inserter = new BatchWriter(client, job.id, taskSlotsOf(job));
      const outcome = await stageItems(req, new ItemValidator(parseLabelConfig(job.label_config), job.task_type), inserter).catch(async (err) => {
        await inserter.abandon();
        throw err;
      });
      await inserter.end().catch(async (err) => {
        await inserter.abandon();
        throw err;
      });
      const refusedParts = outcome.parts.predictions.refused + outcome.parts.annotations.refused;
      if ((outcome.rejected > 0 || refusedParts > 0) && req.onError === 'reject') {
        const what = [
          ...(outcome.rejected ? [`${outcome.rejected} of ${outcome.received} items are invalid`] : []),
          ...(refusedParts ? [`${refusedParts} predictions or annotations do not fit the job`] : []),
        ].join(' and ');
        throw unprocessable(
          'import_rejected',
          `${what}; nothing was imported (send ?on_error=skip to import the valid items without what they refused)`,
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
        errors_truncated: outcome.errorCount > outcome.errors.length,
        parts: outcome.parts,
        ignored_fields: outcome.ignored,
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

async function stageItems(req: ImportRequest, validator: ItemValidator, writer: BatchWriter) {
  const errors: ItemError[] = [];
  let errorCount = 0;
  let rejected = 0;
  let received = 0;
  const parts = { predictions: { kept: 0, converted: 0, refused: 0 }, annotations: { kept: 0, converted: 0, refused: 0 } };
  const ignored: Record<string, number> = {};
  const reader = req.format === 'labelstudio' ? req.contentFormat : (req.format ?? req.contentFormat);
  if (req.format === 'labelstudio' && reader === 'csv') {
    throw badRequest('unsupported_format', 'Label Studio tasks come as JSON (an array or one task) or NDJSON; this body is text/csv', [{ path: 'query.format', message: 'labelstudio needs a JSON or NDJSON body' }]);
  }
  let format: ImportFormat = req.format ?? req.contentFormat;
  const source = reader === 'ndjson' ? ndjsonItems(req.body) : reader === 'csv' ? csvItems(req.body) : jsonItems(req.body);
  const explicit = req.format !== undefined;
  const report = (line: number, message: string, externalId?: string) => {
    errorCount++;
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ line, message, ...(externalId ? { external_id: externalId } : {}) });
  };
  const add = (to: PartCounts, from: PartCounts) => {
    to.kept += from.kept;
    to.converted += from.converted;
    to.refused += from.refused;
  };
  for await (const raw of source) {
    received++;
    if (received === 1 && !explicit && reader !== 'csv' && (looksLikeLabelStudioTask(raw.value) || looksLikeFlatTask(raw.value))) format = 'labelstudio';
    let outcome: StagedRow | { error: string; externalId?: string };
    // Before anything recursive (validation, conversion, JSON.stringify) sees the item.
    const unsafe = raw.error === undefined ? findUnsafeJson(raw.value, 'item') : null;
    if (raw.error !== undefined) outcome = { error: raw.error };
    else if (unsafe) outcome = { error: `${unsafe.message} (${unsafe.code})` };
    else if (isObject(raw.value) && typeof raw.value.csvError === 'string') outcome = { error: raw.value.csvError };
    else if (format === 'labelstudio') {
      const converted = labelStudioToItem(raw.value, validator);
      if ('error' in converted) outcome = converted;
      else {
        outcome = converted.row;
        add(parts.predictions, converted.predictions);
        add(parts.annotations, converted.annotations);
        for (const field of converted.ignored) ignored[field] = (ignored[field] ?? 0) + 1;
        for (const refusal of converted.refusals) report(raw.line, refusal, converted.row.externalId ?? undefined);
      }
    } else outcome = validator.check(raw.value);
    if ('error' in outcome) {
      rejected++;
      report(raw.line, outcome.error, outcome.externalId);
      continue;
    }
    if (format !== 'labelstudio') {
      // A fairlabel item's predictions are all kept; its gold is given as gold.
      if (outcome.predictions) parts.predictions.kept += (JSON.parse(outcome.predictions) as unknown[]).length;
    }
    // Once a rejecting import has a bad item nothing will be kept; keep reading only to report errors.
    if (errorCount > 0 && req.onError === 'reject') continue;
    await writer.push(outcome);
  }
  return { format, received, rejected, errors, errorCount, parts, ignored };
}
