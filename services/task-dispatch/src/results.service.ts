import { Readable } from 'node:stream';
import { parseLabelConfig, type LabelControl, type ResultsFormat } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { notFound, unprocessable, writeAudit, type AuthContext } from '@fairlabel/http';
import type { Clock } from '@fairlabel/runtime';
import {
  CONLL_HEADER,
  cocoAnnotations,
  cocoCategories,
  cocoImage,
  cocoInfo,
  conllDocument,
  csvHeader,
  csvRow,
  imageControls,
  jsonlLine,
  labelStudioTask,
  tarEnd,
  tarEntry,
  yoloClasses,
  yoloLines,
  yoloStem,
  type ExportAnnotation,
  type ExportJob,
  type ExportTask,
} from './export-formats.js';
import { dataKeyOf } from '@fairlabel/contracts';

/** Tasks read per query: big enough to amortise the round trip, small enough to keep memory flat. */
export const EXPORT_BATCH_SIZE = 500;

/** The statuses of assignments that carry an answer (leased, expired and released ones do not). */
const ANSWERED = ['submitted', 'accepted', 'rejected'] as const;

export const exportContentTypes: Record<ResultsFormat, { type: string; extension: string }> = {
  jsonl: { type: 'application/x-ndjson; charset=utf-8', extension: 'jsonl' },
  csv: { type: 'text/csv; charset=utf-8', extension: 'csv' },
  coco: { type: 'application/json; charset=utf-8', extension: 'coco.json' },
  labelstudio: { type: 'application/json; charset=utf-8', extension: 'labelstudio.json' },
  yolo: { type: 'application/x-tar', extension: 'yolo.tar' },
  conll: { type: 'text/plain; charset=utf-8', extension: 'conll' },
};

/** The controls a format exports, or why the job has none it can export. */
export function exportControls(job: ExportJob, format: ResultsFormat, control?: string): { controls: LabelControl[] } | { error: string } {
  const config = job.label_config;
  if (control !== undefined && !config.controls.some((c) => c.name === control)) return { error: `the job has no control named "${control}"` };
  switch (format) {
    case 'coco': {
      const controls = imageControls(config, ['rectangle', 'polygon'], control);
      return controls.length ? { controls } : { error: 'COCO export needs a rectangle or polygon control' };
    }
    case 'yolo': {
      const controls = imageControls(config, ['rectangle'], control);
      return controls.length ? { controls } : { error: 'YOLO export needs a rectangle control' };
    }
    case 'conll': {
      const labels = config.controls.filter((c) => c.type === 'labels' && (control === undefined || c.name === control));
      return labels.length ? { controls: [labels[0]!] } : { error: 'CoNLL export needs a labels control on a text' };
    }
    default:
      return { controls: [] };
  }
}

/** The caller's own job, or undefined: tenancy lives in the WHERE clause. */
export async function findClientJob(db: Db, clientId: string, jobId: string): Promise<(ExportJob & { status: string }) | undefined> {
  const job = await db
    .selectFrom('jobs')
    .select(['id', 'name', 'task_type', 'label_config', 'status'])
    .where('id', '=', jobId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  return job && { ...job, label_config: parseLabelConfig(job.label_config) };
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
      .select([
        'id',
        'external_id',
        'status',
        'payload',
        'result',
        'agreement',
        'decided_at',
        'gold',
        'prediction',
        'prediction_confidence',
        'prediction_model',
        'predictions',
        'prior_annotations',
        'image_sizes',
      ])
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

async function* cocoDocument(db: Db, job: ExportJob, controls: LabelControl[], withAnnotations: boolean, exportedAt: Date): AsyncGenerator<string> {
  yield `{"info":${JSON.stringify(cocoInfo(job, exportedAt))},"licenses":[],"categories":${JSON.stringify(cocoCategories(controls))},"images":[`;
  // COCO keeps images and annotations in separate arrays, so the stream reads the tasks once per array
  // rather than holding either array in memory.
  yield* jsonArrayItems(taskBatches(db, job.id, false), (t) => [cocoImage(job, controls, t)]);
  let annotationId = 0;
  const nextId = () => ++annotationId;
  // Regions of images without a known size, gathered per section and written after it in percent.
  const sections: [string, boolean, (t: ExportTask) => { answer: unknown; extra?: Record<string, unknown> }[]][] = [
    ['annotations', false, (t) => [{ answer: t.result }]],
    ['gold_annotations', false, (t) => [{ answer: t.gold }]],
    ...(withAnnotations
      ? ([
          [
            'annotator_annotations',
            true,
            (t: ExportTask) => (t.annotations ?? []).map((a) => ({ answer: a.answer, extra: { assignment_id: a.assignment_id, worker_id: a.worker_id, status: a.status } })),
          ],
        ] as [string, boolean, (t: ExportTask) => { answer: unknown; extra?: Record<string, unknown> }[]][])
      : []),
  ];
  let unsizedFirst = true;
  const unsized: string[] = [];
  for (const [field, annotated, answers] of sections) {
    yield `],"${field}":[`;
    yield* jsonArrayItems(taskBatches(db, job.id, annotated), (t) =>
      answers(t).flatMap(({ answer, extra }) => {
        const { sized, unsized: rest } = cocoAnnotations(job, controls, t, answer, nextId, extra);
        for (const u of rest) {
          unsized.push(`${unsizedFirst ? '' : ','}${JSON.stringify(u)}`);
          unsizedFirst = false;
        }
        return sized;
      }),
    );
  }
  // Bounded by the regions of unsized images, which a job with known sizes does not have.
  yield `],"fairlabel_unsized_annotations":[${unsized.join('')}]}\n`;
}

async function* yoloArchive(db: Db, job: ExportJob, controls: LabelControl[], exportedAt: Date): AsyncGenerator<Buffer> {
  const classes = yoloClasses(controls);
  yield tarEntry('classes.txt', Buffer.from(classes.map((c) => `${c}\n`).join(''), 'utf8'), exportedAt);
  const notes = { categories: classes.map((name, id) => ({ id, name })), info: { year: exportedAt.getUTCFullYear(), version: '1.0', contributor: 'fairlabel', job_id: job.id } };
  yield tarEntry('notes.json', Buffer.from(JSON.stringify(notes, null, 2), 'utf8'), exportedAt);
  // Label files are paired with images by file stem; a stem seen before gets the task id appended.
  const stems = new Set<string>();
  for await (const batch of taskBatches(db, job.id, false)) {
    const parts: Buffer[] = [];
    for (const t of batch) {
      if (t.result === null || t.result === undefined) continue;
      let stem = yoloStem(job, controls, t);
      if (stems.has(stem)) stem = `${stem}-${t.id}`;
      stems.add(stem);
      parts.push(tarEntry(`labels/${stem}.txt`, Buffer.from(yoloLines(job, controls, t, t.result), 'utf8'), exportedAt));
    }
    if (parts.length) yield Buffer.concat(parts);
  }
  yield tarEnd();
}

async function* conllText(db: Db, job: ExportJob, control: LabelControl): AsyncGenerator<string> {
  yield CONLL_HEADER;
  const object = job.label_config.objects.find((o) => o.name === control.to_name)!;
  for await (const batch of taskBatches(db, job.id, false)) {
    const docs: string[] = [];
    for (const t of batch) {
      const text = t.payload?.[dataKeyOf(object)];
      const spans = (t.result as Record<string, { spans?: unknown }> | null)?.[control.name]?.spans;
      if (typeof text !== 'string' || t.result === null) continue;
      docs.push(conllDocument(text, Array.isArray(spans) ? (spans as { start: number; end: number; labels: string[] }[]) : []));
    }
    if (docs.length) yield docs.join('');
  }
}

async function* exportChunks(db: Db, job: ExportJob, format: ResultsFormat, withAnnotations: boolean, exportedAt: Date, controls: LabelControl[]): AsyncGenerator<string | Buffer> {
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
      yield* cocoDocument(db, job, controls, withAnnotations, exportedAt);
      return;
    case 'yolo':
      yield* yoloArchive(db, job, controls, exportedAt);
      return;
    case 'conll':
      yield* conllText(db, job, controls[0]!);
      return;
  }
}

/** The export as a byte stream; it pulls the next batch only when the client has read the last. */
export function exportStream(db: Db, job: ExportJob, format: ResultsFormat, withAnnotations: boolean, exportedAt: Date, controls: LabelControl[] = []): Readable {
  return Readable.from(exportChunks(db, job, format, withAnnotations, exportedAt, controls), { objectMode: false });
}

export interface JobExport {
  jobId: string;
  contentType: string;
  filename: string;
  stream: Readable;
}

/**
 * Starts an export of the caller's job: refuses a format the job's controls have no meaning in,
 * records the export in the audit log (who took which job's data, and in what form), and returns
 * the stream. Another client's job is not found.
 */
export async function startExport(
  deps: { db: Db; clock: Clock },
  caller: AuthContext,
  jobId: string,
  query: { format: ResultsFormat; include?: 'annotations' | undefined; control?: string | undefined },
): Promise<JobExport> {
  const { db, clock } = deps;
  const { format, include, control } = query;
  const job = await findClientJob(db, caller.organizationId, jobId);
  if (!job) throw notFound('job');
  const fitting = exportControls(job, format, control);
  if ('error' in fitting) {
    throw unprocessable('format_not_supported', `${fitting.error}; this job's controls: ${job.label_config.controls.map((c) => `${c.name} (${c.type})`).join(', ')}`, [
      { path: control !== undefined ? 'query.control' : 'query.format', message: fitting.error },
    ]);
  }
  const withAnnotations = include === 'annotations';
  await writeAudit(db, caller, {
    action: 'job.results_exported',
    resourceType: 'job',
    resourceId: job.id,
    details: { format, include_annotations: withAnnotations, job_status: job.status, ...(control !== undefined ? { control } : {}) },
  });
  const { type, extension } = exportContentTypes[format];
  return {
    jobId: job.id,
    contentType: type,
    filename: `job-${job.id}-results.${extension}`,
    stream: exportStream(db, job, format, withAnnotations, clock.now(), fitting.controls),
  };
}
