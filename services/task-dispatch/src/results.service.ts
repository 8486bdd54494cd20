import { Readable } from 'node:stream';
import type { ResultsFormat } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { notFound, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';
import type { Clock } from '@fairlabel/runtime';
import {
  cocoAnnotations,
  cocoCategories,
  cocoImage,
  cocoInfo,
  csvHeader,
  csvRow,
  jsonlLine,
  labelStudioTask,
  type ExportAnnotation,
  type ExportJob,
  type ExportTask,
} from './export-formats.js';

/** Tasks read per query: big enough to amortise the round trip, small enough to keep memory flat. */
export const EXPORT_BATCH_SIZE = 500;

/** The statuses of assignments that carry an answer (leased, expired and released ones do not). */
const ANSWERED = ['submitted', 'accepted', 'rejected'] as const;

export const exportContentTypes: Record<ResultsFormat, { type: string; extension: string }> = {
  jsonl: { type: 'application/x-ndjson; charset=utf-8', extension: 'jsonl' },
  csv: { type: 'text/csv; charset=utf-8', extension: 'csv' },
  coco: { type: 'application/json; charset=utf-8', extension: 'coco.json' },
  labelstudio: { type: 'application/json; charset=utf-8', extension: 'labelstudio.json' },
};

/** The caller's own job, or undefined: tenancy lives in the WHERE clause. */
export async function findClientJob(db: Db, clientId: string, jobId: string): Promise<(ExportJob & { status: string }) | undefined> {
  return db
    .selectFrom('jobs')
    .select(['id', 'name', 'task_type', 'label_config', 'status'])
    .where('id', '=', jobId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/**
 * The job's tasks in id order, one batch at a time (keyset pagination on the (job_id, id) index), so
 * memory holds one batch however large the job is, and no connection is held between batches.
 */
export async function* taskBatches(db: Db, jobId: string, withAnnotations: boolean, batchSize = EXPORT_BATCH_SIZE): AsyncGenerator<ExportTask[]> {
  let afterId = 0;
  for (;;) {
    const rows = await db
      .selectFrom('tasks')
      .select(['id', 'external_id', 'status', 'payload', 'result', 'agreement', 'decided_at', 'gold', 'prediction', 'prediction_confidence', 'prediction_model'])
      .where('job_id', '=', jobId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) return;
    const tasks: ExportTask[] = rows;
    if (withAnnotations) {
      const first = rows[0]!.id;
      const last = rows[rows.length - 1]!.id;
      const assignments = await db
        .selectFrom('assignments')
        .select(['id', 'task_id', 'worker_id', 'vendor_id', 'status', 'time_spent_ms', 'submitted_at'])
        // Once the client asked for a purge no answer leaves through an export, even before
        // worker-assignment has erased them (the purge is pending until then).
        .select(sql<unknown>`CASE WHEN EXISTS (SELECT 1 FROM job_data_purges p WHERE p.job_id = ${jobId}::uuid) THEN NULL ELSE answer END`.as('answer'))
        .where('job_id', '=', jobId)
        .where('task_id', '>=', first)
        .where('task_id', '<=', last)
        .where('status', 'in', ANSWERED)
        .orderBy('task_id')
        .orderBy('id')
        .execute();
      const byTask = new Map<number, ExportAnnotation[]>();
      for (const a of assignments) {
        const list = byTask.get(a.task_id) ?? [];
        list.push({
          assignment_id: a.id,
          worker_id: a.worker_id,
          vendor_id: a.vendor_id,
          status: a.status,
          answer: a.answer,
          time_spent_ms: a.time_spent_ms,
          submitted_at: a.submitted_at,
        });
        byTask.set(a.task_id, list);
      }
      for (const t of tasks) t.annotations = byTask.get(t.id) ?? [];
    }
    yield tasks;
    if (rows.length < batchSize) return;
    afterId = rows[rows.length - 1]!.id;
  }
}

/** Writes the items of a JSON array whose elements come in batches, with the commas between them. */
async function* jsonArrayItems<T>(batches: AsyncIterable<T[]>, render: (item: T) => unknown[]): AsyncGenerator<string> {
  let first = true;
  for await (const batch of batches) {
    const parts: string[] = [];
    for (const item of batch) {
      for (const element of render(item)) {
        parts.push(first ? JSON.stringify(element) : `,${JSON.stringify(element)}`);
        first = false;
      }
    }
    if (parts.length) yield parts.join('');
  }
}

async function* cocoDocument(db: Db, job: ExportJob, withAnnotations: boolean, exportedAt: Date): AsyncGenerator<string> {
  yield `{"info":${JSON.stringify(cocoInfo(job, exportedAt))},"licenses":[],"categories":${JSON.stringify(cocoCategories(job))},"images":[`;
  // COCO keeps images and annotations in separate arrays, so the stream reads the tasks once per array
  // rather than holding either array in memory.
  yield* jsonArrayItems(taskBatches(db, job.id, false), (t) => [cocoImage(job, t)]);
  yield '],"annotations":[';
  let annotationId = 0;
  const nextId = () => ++annotationId;
  yield* jsonArrayItems(taskBatches(db, job.id, false), (t) => cocoAnnotations(job, t.id, t.result, nextId));
  yield ']';
  if (withAnnotations) {
    // Each annotator's boxes, kept out of `annotations` so COCO tools read only the final result.
    yield ',"annotator_annotations":[';
    yield* jsonArrayItems(taskBatches(db, job.id, true), (t) =>
      (t.annotations ?? []).flatMap((a) =>
        cocoAnnotations(job, t.id, a.answer, nextId, { assignment_id: a.assignment_id, worker_id: a.worker_id, status: a.status }),
      ),
    );
    yield ']';
  }
  yield '}\n';
}

async function* exportChunks(db: Db, job: ExportJob, format: ResultsFormat, withAnnotations: boolean, exportedAt: Date): AsyncGenerator<string> {
  switch (format) {
    case 'jsonl':
      for await (const batch of taskBatches(db, job.id, withAnnotations)) yield batch.map(jsonlLine).join('');
      return;
    case 'csv':
      yield csvHeader(withAnnotations);
      for await (const batch of taskBatches(db, job.id, withAnnotations)) yield batch.map(csvRow).join('');
      return;
    case 'labelstudio':
      yield '[';
      yield* jsonArrayItems(taskBatches(db, job.id, withAnnotations), (t) => [labelStudioTask(job, t)]);
      yield ']\n';
      return;
    case 'coco':
      yield* cocoDocument(db, job, withAnnotations, exportedAt);
      return;
  }
}

/** The export as a byte stream; it pulls the next batch only when the client has read the last. */
export function exportStream(db: Db, job: ExportJob, format: ResultsFormat, withAnnotations: boolean, exportedAt: Date): Readable {
  return Readable.from(exportChunks(db, job, format, withAnnotations, exportedAt), { objectMode: false });
}

export interface JobExport {
  jobId: string;
  contentType: string;
  filename: string;
  stream: Readable;
}

/**
 * Starts an export of the caller's job: refuses a format the job's task type has no meaning in,
 * records the export in the audit log (who took which job's data, and in what form), and returns
 * the stream. Another client's job is not found.
 */
export async function startExport(
  deps: { db: Db; clock: Clock },
  caller: AuthContext,
  jobId: string,
  query: { format: ResultsFormat; include?: 'annotations' | undefined },
): Promise<JobExport> {
  const { db, clock } = deps;
  const { format, include } = query;
  const job = await findClientJob(db, caller.organizationId, jobId);
  if (!job) throw notFound('job');
  if (format === 'coco' && job.task_type !== 'bounding_boxes') {
    throw unprocessable('format_not_supported', `COCO export is for bounding_boxes jobs; this job's task type is ${job.task_type}`, [
      { path: 'query.format', message: 'use jsonl, csv or labelstudio' },
    ]);
  }
  const withAnnotations = include === 'annotations';
  await writeAudit(db, caller, {
    action: 'job.results_exported',
    resourceType: 'job',
    resourceId: job.id,
    details: { format, include_annotations: withAnnotations, job_status: job.status },
  });
  const { type, extension } = exportContentTypes[format];
  return { jobId: job.id, contentType: type, filename: `job-${job.id}-results.${extension}`, stream: exportStream(db, job, format, withAnnotations, clock.now()) };
}
