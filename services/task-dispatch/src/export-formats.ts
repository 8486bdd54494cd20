import { dataKeyOf, type LabelConfig, type LabelControl } from '@fairlabel/contracts';
import { answerToResults, type ImageSizes } from './labelstudio/results.js';

/**
 * Pure formatters of the results export: one task (or one piece of a document) in, text or objects
 * out, so the service can stream any number of tasks through them batch by batch. Answers are v2
 * answers (packages/contracts/src/label-config.ts): objects keyed by control name.
 */

export interface ExportJob {
  id: string;
  name: string;
  task_type: string;
  label_config: LabelConfig;
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
  /** Every prediction: [{answer, model_version?, score?}] (null for tasks imported before there were several). */
  predictions: unknown[] | null;
  /** Annotations an import brought: [{answer, completed_by?, created_at?, ...}]. */
  prior_annotations: unknown[] | null;
  image_sizes: ImageSizes | null;
  /** Present only when the export asked for annotations. */
  annotations?: ExportAnnotation[];
}

// ---------------------------------------------------------------------------------------------
// JSONL

function predictionOf(task: ExportTask) {
  if (task.prediction === null || task.prediction === undefined) return null;
  return { value: task.prediction, confidence: task.prediction_confidence, model: task.prediction_model };
}

interface StoredPrediction {
  answer: unknown;
  model_version?: string;
  score?: number;
  [key: string]: unknown;
}

/** Every prediction of a task; tasks stored before `predictions` existed have only the `prediction*` columns. */
export function predictionsOf(task: ExportTask): StoredPrediction[] {
  if (Array.isArray(task.predictions)) return task.predictions as StoredPrediction[];
  if (task.prediction === null || task.prediction === undefined) return [];
  return [
    {
      answer: task.prediction,
      ...(task.prediction_model !== null ? { model_version: task.prediction_model } : {}),
      ...(task.prediction_confidence !== null ? { score: task.prediction_confidence } : {}),
    },
  ];
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
    predictions: predictionsOf(task),
    prior_annotations: task.prior_annotations ?? [],
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
  'predictions',
  'prior_annotations',
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
    json(predictionsOf(task)),
    json(task.prior_annotations ?? []),
  ];
  if (task.annotations) cells.push(JSON.stringify(task.annotations.map(annotationRecord)));
  return `${cells.map(csvCell).join(',')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Geometry shared by COCO and YOLO: percent of the image in, pixels out when the size is known.

export interface Size {
  width: number;
  height: number;
}

interface Box {
  id?: string;
  labels: string[];
  x: number;
  y: number;
  width: number;
  height: number;
  rotation?: number;
}
interface Polygon {
  id?: string;
  labels: string[];
  points: [number, number][];
}

/** Image controls a geometry export covers: rectangle (and polygon, for COCO) controls, or the one asked for. */
export function imageControls(config: LabelConfig, types: readonly LabelControl['type'][], name?: string): LabelControl[] {
  return config.controls.filter((c) => types.includes(c.type) && (name === undefined || c.name === name));
}

/** Image size of an object for a task: learnt at import, the config's fixed size, or the item's image_width/image_height. */
export function imageSizeOf(config: LabelConfig, objectName: string, task: Pick<ExportTask, 'image_sizes' | 'payload'>): Size | null {
  const learnt = task.image_sizes?.[objectName];
  if (learnt) return learnt;
  const o = config.objects.find((x) => x.name === objectName);
  if (o?.width !== undefined && o.height !== undefined) return { width: o.width, height: o.height };
  const w = task.payload?.image_width;
  const h = task.payload?.image_height;
  return typeof w === 'number' && typeof h === 'number' ? { width: w, height: h } : null;
}

/** The corners of a box, rotated clockwise by `rotation` degrees about its top-left corner, in the units of `scale`. */
export function boxCorners(b: Box, scale: Size): [number, number][] {
  const x0 = (b.x * scale.width) / 100;
  const y0 = (b.y * scale.height) / 100;
  const w = (b.width * scale.width) / 100;
  const h = (b.height * scale.height) / 100;
  const t = ((b.rotation ?? 0) * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  return [
    [0, 0],
    [w, 0],
    [w, h],
    [0, h],
  ].map(([dx, dy]) => [x0 + dx! * cos - dy! * sin, y0 + dx! * sin + dy! * cos]);
}

function bounds(points: [number, number][]): [number, number, number, number] {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return [x, y, Math.max(...xs) - x, Math.max(...ys) - y];
}

/** Shoelace area of a polygon. */
function area(points: [number, number][]): number {
  let s = 0;
  for (let i = 0; i < points.length; i++) {
    const [x1, y1] = points[i]!;
    const [x2, y2] = points[(i + 1) % points.length]!;
    s += x1 * y2 - x2 * y1;
  }
  return Math.abs(s) / 2;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function regionsOf<T>(answer: unknown, control: LabelControl, key: 'boxes' | 'polygons'): T[] {
  const value = (answer as Record<string, Record<string, unknown>> | null)?.[control.name]?.[key];
  return Array.isArray(value) ? (value as T[]) : [];
}

// ---------------------------------------------------------------------------------------------
// COCO: images, annotations with bbox [x, y, width, height] in pixels, categories from the image
// controls' labels (ids 1..n in config order). `annotations` holds the decided results; with
// include=annotations, `annotator_annotations` holds every annotator's regions; `gold_annotations`
// holds the gold answers' regions. Regions of images whose size is unknown cannot be put in pixels:
// they go in `fairlabel_unsized_annotations`, in percent (`bbox_percent`, `segmentation_percent`).

export function cocoCategories(controls: LabelControl[]) {
  return yoloClasses(controls).map((name, i) => ({ id: i + 1, name, supercategory: '' }));
}

/** The image file of a task: the data key of the controls' image object. */
function fileNameOf(config: LabelConfig, objectName: string | undefined, task: Pick<ExportTask, 'payload' | 'external_id' | 'id'>): string {
  const o = config.objects.find((x) => x.name === objectName);
  const value = o ? task.payload?.[dataKeyOf(o)] : undefined;
  if (typeof value === 'string') return value;
  const p = task.payload ?? {};
  for (const key of ['image', 'image_url', 'url', 'file_name']) if (typeof p[key] === 'string') return p[key] as string;
  return task.external_id ?? `task-${task.id}`;
}

export function cocoImage(job: ExportJob, controls: LabelControl[], task: ExportTask) {
  const objectName = controls[0]?.to_name;
  const size = objectName ? imageSizeOf(job.label_config, objectName, task) : null;
  return {
    id: task.id,
    file_name: fileNameOf(job.label_config, objectName, task),
    width: size?.width ?? null,
    height: size?.height ?? null,
    external_id: task.external_id,
    status: task.status,
    agreement: task.agreement,
  };
}

/**
 * COCO annotations of one answer, split into those in pixels (the image size is known) and those
 * that stay in percent; `nextId` hands out annotation ids, unique across the document.
 */
export function cocoAnnotations(job: ExportJob, controls: LabelControl[], task: ExportTask, answer: unknown, nextId: () => number, extra: Record<string, unknown> = {}) {
  const categories = new Map(cocoCategories(controls).map((c) => [c.name, c.id]));
  const sized: Record<string, unknown>[] = [];
  const unsized: Record<string, unknown>[] = [];
  for (const c of controls) {
    const size = imageSizeOf(job.label_config, c.to_name, task);
    const scale = size ?? { width: 100, height: 100 };
    const shapes: { labels: string[]; id?: string; points: [number, number][]; rotation?: number; polygon: boolean }[] = [
      ...regionsOf<Box>(answer, c, 'boxes').map((b) => ({ labels: b.labels, ...(b.id ? { id: b.id } : {}), points: boxCorners(b, scale), ...(b.rotation ? { rotation: b.rotation } : {}), polygon: Boolean(b.rotation) })),
      ...regionsOf<Polygon>(answer, c, 'polygons').map((p) => ({
        labels: p.labels,
        ...(p.id ? { id: p.id } : {}),
        points: p.points.map(([x, y]) => [(x * scale.width) / 100, (y * scale.height) / 100] as [number, number]),
        polygon: true,
      })),
    ];
    for (const s of shapes) {
      const [bx, by, bw, bh] = bounds(s.points).map(round3) as [number, number, number, number];
      const segmentation = s.polygon ? [s.points.flatMap(([x, y]) => [round3(x), round3(y)])] : [];
      const common = {
        id: nextId(),
        image_id: task.id,
        category_id: categories.get(s.labels[0] ?? '') ?? null,
        iscrowd: 0,
        control: c.name,
        ...(s.id ? { region_id: s.id } : {}),
        ...(s.rotation ? { attributes: { rotation: s.rotation } } : {}),
        ...extra,
      };
      if (size) sized.push({ ...common, bbox: [bx, by, bw, bh], area: round3(s.polygon ? area(s.points) : bw * bh), segmentation });
      else unsized.push({ ...common, bbox_percent: [bx, by, bw, bh], segmentation_percent: segmentation });
    }
  }
  return { sized, unsized };
}

export function cocoInfo(job: ExportJob, exportedAt: Date) {
  return {
    description: `fairlabel job ${job.name}`,
    job_id: job.id,
    version: '1.0',
    date_created: exportedAt.toISOString(),
    fields:
      'annotations: decided results; gold_annotations: gold answers; annotator_annotations (include=annotations): every submitted answer; ' +
      'fairlabel_unsized_annotations: regions of images whose size is unknown, in percent of the image',
  };
}

// ---------------------------------------------------------------------------------------------
// YOLO (boxes): a tar of `classes.txt` (one label per line; the line number, from 0, is the class
// id), `notes.json` (categories and info, as Label Studio's converter writes) and one
// `labels/<image file stem>.txt` per decided task: `class x_center y_center width height`, each in
// 0..1 of the image. A rotated box is written as the axis-aligned box around it (computed in pixels
// when the image size is known, else in percent).

export function yoloClasses(controls: LabelControl[]): string[] {
  const names: string[] = [];
  for (const c of controls) for (const l of 'labels' in c ? c.labels : []) if (!names.includes(l)) names.push(l);
  return names;
}

export function yoloLines(job: ExportJob, controls: LabelControl[], task: ExportTask, answer: unknown): string {
  const classes = new Map(yoloClasses(controls).map((name, i) => [name, i]));
  const lines: string[] = [];
  for (const c of controls) {
    const size = imageSizeOf(job.label_config, c.to_name, task) ?? { width: 100, height: 100 };
    for (const b of regionsOf<Box>(answer, c, 'boxes')) {
      const [x, y, w, h] = bounds(boxCorners(b, size));
      const cls = classes.get(b.labels[0] ?? '');
      if (cls === undefined) continue;
      const n = (v: number) => String(Math.round(Math.min(Math.max(v, 0), 1) * 1e6) / 1e6);
      lines.push(`${cls} ${n((x + w / 2) / size.width)} ${n((y + h / 2) / size.height)} ${n(w / size.width)} ${n(h / size.height)}\n`);
    }
  }
  return lines.join('');
}

/** The file stem YOLO pairs a label file with: the image's file name without directories, query or extension. */
export function yoloStem(job: ExportJob, controls: LabelControl[], task: ExportTask): string {
  const file = fileNameOf(job.label_config, controls[0]?.to_name, task);
  const base = file.split(/[?#]/)[0]!.split('/').pop() ?? '';
  const stem = base.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '_');
  return stem || `task-${task.id}`;
}

/** One file of a ustar archive (a PAX header carries names longer than the 100 bytes ustar holds). */
export function tarEntry(name: string, content: Buffer, mtime: Date): Buffer {
  const parts: Buffer[] = [];
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) {
    const record = (len: number) => `${len} path=${name}\n`;
    let len = Buffer.byteLength(record(0), 'utf8');
    while (Buffer.byteLength(record(len), 'utf8') !== len) len = Buffer.byteLength(record(len), 'utf8');
    const pax = Buffer.from(record(len), 'utf8');
    parts.push(tarHeader('PaxHeader', pax.length, mtime, 'x'), pad512(pax));
  }
  parts.push(tarHeader(nameBytes.length > 100 ? nameBytes.subarray(0, 100).toString('latin1') : name, content.length, mtime, '0'), pad512(content));
  return Buffer.concat(parts);
}

function pad512(content: Buffer): Buffer {
  const rest = content.length % 512;
  return rest ? Buffer.concat([content, Buffer.alloc(512 - rest)]) : content;
}

function tarHeader(name: string, size: number, mtime: Date, type: string): Buffer {
  const h = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number) => h.write(value, offset, length, 'utf8');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** The end of a tar archive: two zero blocks. */
export const tarEnd = () => Buffer.alloc(1024);

// ---------------------------------------------------------------------------------------------
// CoNLL 2003 / BIO (spans): `-DOCSTART- -X- O`, then one `token -X- _ TAG` line per token of each
// decided task's text and a blank line after each task. Tokens are the text's whitespace-separated
// words, also split where a span starts or ends, so every span maps to whole tokens; the first
// token of a span is B-<label>, the next ones I-<label>, the rest O. Overlapping spans: the one that
// starts first wins.

export const CONLL_HEADER = '-DOCSTART- -X- O\n\n';

interface Span {
  start: number;
  end: number;
  labels: string[];
}

export function conllDocument(text: string, spans: Span[]): string {
  const cuts = new Set<number>();
  for (const s of spans) {
    cuts.add(s.start);
    cuts.add(s.end);
  }
  const tokens: [number, number][] = [];
  for (const m of text.matchAll(/\S+/g)) {
    let start = m.index;
    const end = m.index + m[0].length;
    for (let i = start + 1; i < end; i++) {
      if (cuts.has(i)) {
        tokens.push([start, i]);
        start = i;
      }
    }
    tokens.push([start, end]);
  }
  const ordered = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  let previous: Span | undefined;
  const lines = tokens.map(([s, e]) => {
    const span = ordered.find((x) => x.start <= s && s < x.end);
    const tag = span && span.labels[0] !== undefined ? `${span === previous ? 'I' : 'B'}-${span.labels[0]}` : 'O';
    previous = span;
    return `${text.slice(s, e)} -X- _ ${tag}\n`;
  });
  return `${lines.join('')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Label Studio task format (https://labelstud.io/guide/task_format): `{ id, data, annotations:
// [{ result, ground_truth, ... }], predictions: [{ result, score, model_version }], meta }` with the
// job's own control and object names, region ids, rotation, percent and original image sizes, so it
// loads into the Label Studio project made from GET /v1/jobs/:id/label-config?format=labelstudio.
// It also re-imports into fairlabel: the gold answer is the ground-truth annotation, the decided
// result, each annotator's answer and the prior annotations follow as annotations told apart by
// `fairlabel_kind`, and the external_id rides in meta.

export function labelStudioTask(job: ExportJob, task: ExportTask) {
  const config = job.label_config;
  const imageSizes: ImageSizes = { ...(task.image_sizes ?? {}) };
  const results = (answer: unknown, idPrefix: string) => answerToResults(config, answer, { idPrefix: `t${task.id}${idPrefix}`, data: task.payload, imageSizes });
  const annotations: Record<string, unknown>[] = [];
  if (task.gold !== null && task.gold !== undefined) {
    annotations.push({ result: results(task.gold, 'g'), ground_truth: true, was_cancelled: false, fairlabel_kind: 'gold' });
  }
  if (task.result !== null && task.result !== undefined) {
    annotations.push({
      result: results(task.result, 'r'),
      ground_truth: false,
      was_cancelled: false,
      fairlabel_kind: 'result',
      ...(task.decided_at ? { created_at: task.decided_at.toISOString() } : {}),
    });
  }
  for (const a of task.annotations ?? []) {
    if (a.answer === null || a.answer === undefined) continue;
    annotations.push({
      result: results(a.answer, `a${a.assignment_id}_`),
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
  (task.prior_annotations ?? []).forEach((p, i) => {
    const { answer, ...fields } = p as Record<string, unknown>;
    annotations.push({
      ...fields,
      result: answer === null || answer === undefined ? [] : results(answer, `h${i}_`),
      ground_truth: fields.ground_truth === true,
      was_cancelled: fields.was_cancelled === true,
      fairlabel_kind: fields.fairlabel_kind ?? 'prior',
    });
  });
  const predictions = predictionsOf(task).map((p, i) => {
    const { answer, ...fields } = p;
    return { ...fields, result: results(answer, `p${i}_`) };
  });
  return {
    id: task.id,
    data: task.payload ?? {},
    annotations,
    predictions,
    meta: { fairlabel: { ...(task.external_id !== null ? { external_id: task.external_id } : {}), status: task.status, agreement: task.agreement } },
  };
}
