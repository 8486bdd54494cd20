import { answerFromResults, type ImageSizes } from '../labelstudio/results.js';
import { hasNul, isObject, type ItemValidator, type StagedRow } from './validation.js';

/**
 * The Label Studio reader: one Label Studio task (an element of an export, an NDJSON line, or a whole
 * single-task body) into the row of a fairlabel task. https://labelstud.io/guide/tasks and
 * /guide/task_format: `{id?, data, predictions?, annotations?}`, the older `completions` for
 * `annotations`, or a flat task (no `data`: the whole object is the data).
 *
 * Every prediction is kept (answer, model_version, score). The first ground-truth annotation becomes
 * the task's gold answer; every other annotation is kept as a prior annotation (its answer, who made
 * it, when, how long it took). A prediction or annotation that does not fit the job is refused and
 * reported with its index; the task itself is still imported when on_error=skip.
 */

export interface PartCounts {
  kept: number;
  converted: number;
  refused: number;
}

export interface LabelStudioItem {
  row: StagedRow;
  /** Refused predictions and annotations, worded with their index (`predictions.1: ...`). */
  refusals: string[];
  predictions: PartCounts;
  annotations: PartCounts;
  /** Fields not stored, counted once per task. */
  ignored: string[];
}

/** Task fields with a meaning here; Label Studio's other fields are its own bookkeeping. */
const taskFields = new Set(['data', 'id', 'external_id', 'predictions', 'annotations', 'completions']);
/** Annotation fields kept with a prior annotation (besides its result). */
const annotationFields = ['id', 'completed_by', 'created_at', 'updated_at', 'lead_time', 'was_cancelled', 'ground_truth'] as const;
const predictionFields = new Set(['result', 'model_version', 'score', 'id', 'created_at']);

/** Marks a Label Studio task among the items of a JSON array or NDJSON body. */
export function looksLikeLabelStudioTask(item: unknown): boolean {
  if (!isObject(item)) return false;
  if ('annotations' in item || 'completions' in item || 'predictions' in item) return true;
  return isObject(item.data) && ('id' in item || 'meta' in item);
}

/** A flat Label Studio task: an object that has none of a fairlabel item's keys. */
export function looksLikeFlatTask(item: unknown): boolean {
  if (!isObject(item)) return false;
  return !['external_id', 'data', 'payload', 'priority', 'prediction', 'predictions', 'gold'].some((k) => k in item);
}

export function labelStudioToItem(task: unknown, validator: ItemValidator): LabelStudioItem | { error: string; externalId?: string } {
  if (!isObject(task)) return { error: 'a Label Studio task must be a JSON object' };
  // fairlabel's own Label Studio export carries the external_id in meta.
  const meta = isObject(task.meta) ? task.meta : undefined;
  const carried = isObject(meta?.fairlabel) ? meta.fairlabel.external_id : undefined;
  const idValue = task.external_id ?? carried ?? task.id;
  const externalId = typeof idValue === 'string' || typeof idValue === 'number' ? String(idValue) : null;
  const fail = (error: string) => ({ error, ...(externalId !== null ? { externalId } : {}) });
  if (externalId !== null && (externalId.length < 1 || externalId.length > 200 || hasNul(externalId))) return fail('id: 1 to 200 characters, without NUL');
  // Label Studio reads a task without `data` as the data itself.
  const flat = !('data' in task);
  if (!flat && !isObject(task.data)) return fail('data: must be an object');
  const data = (flat ? task : task.data) as Record<string, unknown>;
  const payload = JSON.stringify(data);
  if (hasNul(payload)) return fail('data: contains a NUL character, which cannot be stored');

  const ignored = new Set<string>();
  if (!flat) {
    for (const key of Object.keys(task)) if (!taskFields.has(key) && key !== 'meta') ignored.add(key);
    if (meta && Object.keys(meta).some((k) => k !== 'fairlabel')) ignored.add('meta');
  }
  const refusals: string[] = [];
  const imageSizes: ImageSizes = {};
  const learn = (sizes: ImageSizes) => {
    for (const [name, size] of Object.entries(sizes)) imageSizes[name] ??= size;
  };
  const convert = (result: unknown, partial: boolean) => {
    const from = answerFromResults(validator.config, result);
    if ('error' in from) return from;
    for (const f of from.ignored) ignored.add(f);
    const checked = validator.answer(from.answer, data, { partial });
    if ('error' in checked) return checked;
    learn(from.imageSizes);
    return { answer: checked.answer };
  };

  const predictions = { kept: 0, converted: 0, refused: 0 };
  const kept: { answer: unknown; score?: number; model_version?: string }[] = [];
  if (!flat && task.predictions !== undefined) {
    if (!Array.isArray(task.predictions)) return fail('predictions: must be a list');
    task.predictions.forEach((p, i) => {
      if (!isObject(p)) {
        predictions.refused++;
        refusals.push(`predictions.${i}: not an object`);
        return;
      }
      for (const key of Object.keys(p)) if (!predictionFields.has(key)) ignored.add(`predictions.${key}`);
      const converted = convert(p.result, true);
      if ('error' in converted) {
        predictions.refused++;
        refusals.push(`predictions.${i}: ${converted.error}`);
        return;
      }
      predictions.kept++;
      kept.push({
        answer: converted.answer,
        ...(typeof p.model_version === 'string' && !hasNul(p.model_version) ? { model_version: p.model_version } : {}),
        ...(typeof p.score === 'number' && Number.isFinite(p.score) ? { score: p.score } : {}),
        ...(p.id !== undefined ? { id: p.id } : {}),
        ...(typeof p.created_at === 'string' ? { created_at: p.created_at } : {}),
      });
    });
  }

  const annotations = { kept: 0, converted: 0, refused: 0 };
  let gold: string | null = null;
  const prior: Record<string, unknown>[] = [];
  // Label Studio reads `completions` (its format before 1.0) when a task has no `annotations`.
  const list = flat ? undefined : (task.annotations ?? task.completions);
  const listName = !flat && task.annotations === undefined && task.completions !== undefined ? 'completions' : 'annotations';
  if (list !== undefined) {
    if (!Array.isArray(list)) return fail(`${listName}: must be a list`);
    list.forEach((a, i) => {
      if (!isObject(a)) {
        annotations.refused++;
        refusals.push(`${listName}.${i}: not an object`);
        return;
      }
      const cancelled = a.was_cancelled === true || a.skipped === true;
      const emptySkip = cancelled && Array.isArray(a.result) && a.result.length === 0;
      // Ground truth becomes gold, which must be a whole answer; other annotations may be partial
      // (made before a control was added, or required only in the interface).
      const converted = emptySkip ? { answer: null } : convert(a.result, !(a.ground_truth === true && !cancelled && gold === null));
      if ('error' in converted) {
        annotations.refused++;
        refusals.push(`${listName}.${i}${a.ground_truth === true ? ' (ground truth)' : ''}: ${converted.error}`);
        return;
      }
      for (const key of Object.keys(a)) {
        if (key !== 'result' && key !== 'skipped' && !(annotationFields as readonly string[]).includes(key) && !key.startsWith('fairlabel_')) ignored.add(`${listName}.${key}`);
      }
      if (a.ground_truth === true && gold === null && !cancelled) {
        gold = JSON.stringify(converted.answer);
        annotations.converted++;
        return;
      }
      const record: Record<string, unknown> = { answer: converted.answer };
      for (const key of annotationFields) if (a[key] !== undefined) record[key] = a[key];
      if (a.skipped === true) record.was_cancelled = true;
      for (const [key, value] of Object.entries(a)) if (key.startsWith('fairlabel_')) record[key] = value;
      prior.push(record);
      annotations.kept++;
    });
  }
  const priorJson = JSON.stringify(prior);
  if (hasNul(priorJson)) return fail(`${listName}: an annotation contains a NUL character, which cannot be stored`);

  const row = validator.stage({ externalId, payload, priority: 0, gold, predictions: kept, priorAnnotations: prior, imageSizes });
  return { row, refusals, predictions, annotations, ignored: [...ignored] };
}
