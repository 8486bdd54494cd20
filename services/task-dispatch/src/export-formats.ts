import type { TaskTypeName } from '@fairlabel/contracts';
import { answerToLabelStudio } from './label-studio.js';

/**
 * Pure formatters of the results export: one task (or one piece of a document) in, text or objects
 * out, so the service can stream any number of tasks through them batch by batch. Answer shapes are
 * those of packages/contracts/src/label-config.ts ({label}, {labels}, {boxes}, {spans}, {text}).
 */

export interface ExportJob {
  id: string;
  name: string;
  task_type: string;
  label_config: Record<string, unknown>;
}

export interface ExportAnnotation {
  assignment_id: number;
  worker_id: string;
  vendor_id: string;
  status: string;
  answer: unknown;
  time_spent_ms: number | null;
  submitted_at: Date | null;
}

export interface ExportTask {
  id: number;
  external_id: string | null;
  status: string;
  payload: Record<string, unknown> | null;
  result: unknown;
  agreement: number | null;
  decided_at: Date | null;
  gold: unknown;
  prediction: unknown;
  prediction_confidence: number | null;
  prediction_model: string | null;
  /** Present only when the export asked for annotations. */
  annotations?: ExportAnnotation[];
}

// ---------------------------------------------------------------------------------------------
// JSONL

function predictionOf(task: ExportTask) {
  if (task.prediction === null || task.prediction === undefined) return null;
  return { value: task.prediction, confidence: task.prediction_confidence, model: task.prediction_model };
}

function annotationRecord(a: ExportAnnotation) {
  return {
    assignment_id: a.assignment_id,
    worker_id: a.worker_id,
    vendor_id: a.vendor_id,
    status: a.status,
    answer: a.answer,
    time_spent_ms: a.time_spent_ms,
    submitted_at: a.submitted_at ? a.submitted_at.toISOString() : null,
  };
}

export function taskRecord(task: ExportTask) {
  return {
    task_id: task.id,
    external_id: task.external_id,
    status: task.status,
    payload: task.payload,
    result: task.result ?? null,
    agreement: task.agreement,
    decided_at: task.decided_at ? task.decided_at.toISOString() : null,
    gold: task.gold ?? null,
    prediction: predictionOf(task),
    ...(task.annotations ? { annotations: task.annotations.map(annotationRecord) } : {}),
  };
}

export function jsonlLine(task: ExportTask): string {
  return `${JSON.stringify(taskRecord(task))}\n`;
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180). Structured columns (payload, result, gold, prediction, annotations) hold JSON text,
// so every value survives the trip through a spreadsheet and back.

const CSV_COLUMNS = [
  'task_id',
  'external_id',
  'status',
  'result',
  'agreement',
  'decided_at',
  'payload',
  'gold',
  'prediction',
  'prediction_confidence',
  'prediction_model',
] as const;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(withAnnotations: boolean): string {
  return `${[...CSV_COLUMNS, ...(withAnnotations ? ['annotations'] : [])].join(',')}\r\n`;
}

export function csvRow(task: ExportTask): string {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  const cells: unknown[] = [
    task.id,
    task.external_id,
    task.status,
    json(task.result),
    task.agreement,
    task.decided_at,
    json(task.payload),
    json(task.gold),
    json(task.prediction),
    task.prediction_confidence,
    task.prediction_model,
  ];
  if (task.annotations) cells.push(JSON.stringify(task.annotations.map(annotationRecord)));
  return `${cells.map(csvCell).join(',')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// COCO (bounding-box jobs): images, annotations with bbox [x, y, width, height] in pixels, categories
// from the label config (ids 1..n in config order).

interface Box {
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

function boxesOf(answer: unknown): Box[] {
  const boxes = (answer as { boxes?: unknown } | null)?.boxes;
  return Array.isArray(boxes) ? (boxes as Box[]) : [];
}

function labelsOf(job: ExportJob): string[] {
  const labels = job.label_config.labels;
  return Array.isArray(labels) ? labels.map(String) : [];
}

export function cocoCategories(job: ExportJob) {
  return labelsOf(job).map((name, i) => ({ id: i + 1, name, supercategory: '' }));
}

/** Image size: the job's fixed size, else the task payload's `image_width`/`image_height`. */
export function imageSizeOf(job: ExportJob, payload: Record<string, unknown> | null): { width: number; height: number } | null {
  const cfg = job.label_config;
  const w = cfg.image_width ?? payload?.image_width;
  const h = cfg.image_height ?? payload?.image_height;
  return typeof w === 'number' && typeof h === 'number' ? { width: w, height: h } : null;
}

function fileNameOf(task: ExportTask): string {
  const p = task.payload ?? {};
  for (const key of ['image', 'image_url', 'url', 'file_name']) if (typeof p[key] === 'string') return p[key] as string;
  return task.external_id ?? `task-${task.id}`;
}

export function cocoImage(job: ExportJob, task: ExportTask) {
  const size = imageSizeOf(job, task.payload);
  return {
    id: task.id,
    file_name: fileNameOf(task),
    width: size?.width ?? null,
    height: size?.height ?? null,
    external_id: task.external_id,
    status: task.status,
    agreement: task.agreement,
  };
}

/** COCO annotations of one answer; `nextId` hands out annotation ids, unique across the document. */
export function cocoAnnotations(job: ExportJob, taskId: number, answer: unknown, nextId: () => number, extra: Record<string, unknown> = {}) {
  const categoryOf = new Map(labelsOf(job).map((name, i) => [name, i + 1]));
  return boxesOf(answer).map((b) => ({
    id: nextId(),
    image_id: taskId,
    category_id: categoryOf.get(b.label) ?? null,
    bbox: [b.x, b.y, b.width, b.height],
    area: b.width * b.height,
    iscrowd: 0,
    ...extra,
  }));
}

export function cocoInfo(job: ExportJob, exportedAt: Date) {
  return { description: `fairlabel job ${job.name}`, job_id: job.id, version: '1.0', date_created: exportedAt.toISOString() };
}

// ---------------------------------------------------------------------------------------------
// Label Studio task format: `{ id, data, annotations: [{ result }], predictions: [{ result, score,
// model_version }] }`. It is built so that part of it re-imports into fairlabel as the same task
// (label-studio.ts reads it back): `data` is the payload unchanged, `external_id` is kept, the gold
// answer is the `ground_truth` annotation, the model prediction is the first prediction. The final
// result and each annotator's answer follow as ordinary annotations, told apart by `fairlabel_kind`.

/** The payload plus the job's fixed image size, so boxes convert to Label Studio's percentages. */
function labelStudioData(job: ExportJob, payload: Record<string, unknown> | null): Record<string, unknown> {
  const data = payload ?? {};
  if (job.task_type !== 'bounding_boxes') return data;
  const size = imageSizeOf(job, payload);
  return size ? { image_width: size.width, image_height: size.height, ...data } : data;
}

export function labelStudioTask(job: ExportJob, task: ExportTask) {
  const taskType = job.task_type as TaskTypeName;
  const sizing = labelStudioData(job, task.payload);
  const regions = (answer: unknown) => answerToLabelStudio(taskType, answer, sizing);
  const annotations: Record<string, unknown>[] = [];
  if (task.gold !== null && task.gold !== undefined) {
    annotations.push({ result: regions(task.gold), ground_truth: true, was_cancelled: false, fairlabel_kind: 'gold' });
  }
  if (task.result !== null && task.result !== undefined) {
    annotations.push({
      result: regions(task.result),
      ground_truth: false,
      was_cancelled: false,
      fairlabel_kind: 'result',
      ...(task.decided_at ? { created_at: task.decided_at.toISOString() } : {}),
    });
  }
  for (const a of task.annotations ?? []) {
    if (a.answer === null || a.answer === undefined) continue;
    annotations.push({
      result: regions(a.answer),
      ground_truth: false,
      was_cancelled: false,
      fairlabel_kind: 'annotation',
      fairlabel_assignment_id: a.assignment_id,
      fairlabel_worker_id: a.worker_id,
      fairlabel_status: a.status,
      lead_time: a.time_spent_ms === null ? null : a.time_spent_ms / 1000,
      ...(a.submitted_at ? { created_at: a.submitted_at.toISOString() } : {}),
    });
  }
  const predictions =
    task.prediction === null || task.prediction === undefined
      ? []
      : [
          {
            result: regions(task.prediction),
            ...(task.prediction_confidence !== null ? { score: task.prediction_confidence } : {}),
            ...(task.prediction_model !== null ? { model_version: task.prediction_model } : {}),
          },
        ];
  return {
    id: task.id,
    ...(task.external_id !== null ? { external_id: task.external_id } : {}),
    data: task.payload ?? {},
    annotations,
    predictions,
    meta: { status: task.status, agreement: task.agreement },
  };
}
