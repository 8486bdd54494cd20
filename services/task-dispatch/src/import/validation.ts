import {
  answerContextKey,
  answerContextOf,
  answerFromLegacy,
  answerSchemaFor,
  importItemSchema,
  issuesOf,
  legacyTaskTypes,
  type LabelConfig,
  type TaskTypeName,
} from '@fairlabel/contracts';
import type { z } from 'zod';

/**
 * One imported item checked against the job's label config and turned into the row the COPY writer
 * encodes: its columns as text, or the reason it is refused.
 */

export interface StagedRow {
  externalId: string | null;
  payload: string;
  priority: number;
  /** The first prediction (what claims show), its confidence (0..1) and model. */
  prediction: string | null;
  confidence: number | null;
  model: string | null;
  gold: string | null;
  /** Every prediction, as JSON: [{answer, model_version?, score?}]. */
  predictions: string | null;
  /** Annotations brought by the import, as JSON: [{answer, completed_by?, created_at?, ...}]. */
  priorAnnotations: string | null;
  /** Image sizes by object name, as JSON. */
  imageSizes: string | null;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type ItemSchema = z.infer<typeof importItemSchema>;

/** No NUL characters: Postgres text and jsonb cannot store them, and one would fail the whole batch. */
export const hasNul = (s: string) => s.includes('\u0000') || s.includes('\\u0000');

const plainItemKeys = new Set(['external_id', 'data', 'priority']);

const emptyParts = { prediction: null, confidence: null, model: null, gold: null, predictions: null, priorAnnotations: null, imageSizes: null };

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
  return { externalId: externalId ?? null, payload, priority: (priority as number | undefined) ?? 0, ...emptyParts };
}

const MAX_SCHEMAS = 256;

export const describeIssues = (error: z.ZodError) => issuesOf(error).map((i) => `${i.path || '(answer)'}: ${i.message}`).join('; ');

export class ItemValidator {
  private readonly schemas = new Map<string, z.ZodType>();
  /** The first API's task type, when the job was made with it: its answer shapes are still read. */
  private readonly legacyType: TaskTypeName | null;

  constructor(
    readonly config: LabelConfig,
    taskType: string,
  ) {
    this.legacyType = (legacyTaskTypes as readonly string[]).includes(taskType) ? (taskType as TaskTypeName) : null;
  }

  /** Span bounds depend on the item's text; the rest of the schema does not, so schemas are shared by context key. */
  private schemaFor(data: Record<string, unknown>, partial: boolean): z.ZodType {
    const context = answerContextOf(data);
    const key = `${partial ? 'p' : 'f'}${answerContextKey(this.config, context)}`;
    let schema = this.schemas.get(key);
    if (!schema) {
      schema = answerSchemaFor(this.config, context, { partial });
      if (this.schemas.size >= MAX_SCHEMAS) this.schemas.clear();
      this.schemas.set(key, schema);
    }
    return schema;
  }

  private imageSize(data: Record<string, unknown>): { width: number; height: number } | undefined {
    const o = this.config.objects.find((x) => x.type === 'image');
    if (o?.width !== undefined && o.height !== undefined) return { width: o.width, height: o.height };
    return typeof data.image_width === 'number' && typeof data.image_height === 'number' ? { width: data.image_width, height: data.image_height } : undefined;
  }

  /**
   * The answer as stored (validated, defaults applied), or why it is not valid for this job. A
   * legacy-shaped answer of a legacy job is converted first. Gold must be a whole answer (workers are
   * scored against it); a prediction or an imported annotation may be `partial` (nothing required).
   */
  answer(value: unknown, data: Record<string, unknown>, opts: { partial?: boolean } = {}): { answer: unknown } | { error: string } {
    const schema = this.schemaFor(data, opts.partial === true);
    const parsed = schema.safeParse(value);
    if (parsed.success) return { answer: parsed.data };
    if (this.legacyType) {
      const legacy = answerFromLegacy(this.legacyType, value, this.imageSize(data));
      if (legacy && 'error' in legacy) return legacy;
      if (legacy) {
        const again = schema.safeParse(legacy.answer);
        return again.success ? { answer: again.data } : { error: describeIssues(again.error) };
      }
    }
    return { error: describeIssues(parsed.error) };
  }

  check(value: unknown): StagedRow | { error: string; externalId?: string } {
    const plain = plainItem(value);
    if (plain) return plain;
    const parsed = importItemSchema.safeParse(value);
    if (!parsed.success) {
      const externalId = isObject(value) && typeof value.external_id === 'string' ? value.external_id : undefined;
      const missingData = isObject(value) && !('data' in value) && !('payload' in value);
      const message = issuesOf(parsed.error).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      return { error: missingData ? `data: the item needs a \`data\` object (what workers see); ${message}` : message, ...(externalId ? { externalId } : {}) };
    }
    const item: ItemSchema = parsed.data;
    const fail = (error: string) => ({ error, ...(item.external_id !== undefined ? { externalId: item.external_id } : {}) });
    if (item.data && item.payload) return fail('give `data` or `payload`, not both');
    const data = item.data ?? item.payload;
    if (!data) return fail('data: the item needs a `data` object (what workers see)');
    if (item.external_id !== undefined && hasNul(item.external_id)) return fail('external_id: contains a NUL character');
    if (item.prediction && item.predictions) return fail('give `prediction` or `predictions`, not both');
    let gold: string | null = null;
    if (item.gold !== undefined && item.gold !== null) {
      const g = this.answer(item.gold, data);
      if ('error' in g) return fail(`gold is not a valid answer for this job: ${g.error}`);
      gold = JSON.stringify(g.answer);
    }
    const predictions: { answer: unknown; score?: number; model_version?: string }[] = [];
    const given = item.predictions ?? (item.prediction ? [item.prediction] : []);
    for (let i = 0; i < given.length; i++) {
      const p = given[i]!;
      const where = item.predictions ? `predictions.${i}` : 'prediction';
      const checked = this.answer(p.answer, data, { partial: true });
      if ('error' in checked) return fail(`${where}.answer is not a valid answer for this job: ${checked.error}`);
      if (p.model_version !== undefined && hasNul(p.model_version)) return fail(`${where}.model_version: contains a NUL character`);
      predictions.push({ answer: checked.answer, ...(p.confidence !== undefined ? { score: p.confidence } : {}), ...(p.model_version !== undefined ? { model_version: p.model_version } : {}) });
    }
    const payload = JSON.stringify(data);
    if (hasNul(payload)) return fail('data: contains a NUL character, which cannot be stored');
    return this.stage({ externalId: item.external_id ?? null, payload, priority: item.priority ?? 0, gold, predictions, priorAnnotations: [], imageSizes: null });
  }

  /** The row of an item whose parts are already checked. */
  stage(parts: {
    externalId: string | null;
    payload: string;
    priority: number;
    gold: string | null;
    predictions: { answer: unknown; score?: number; model_version?: string }[];
    priorAnnotations: unknown[];
    imageSizes: Record<string, unknown> | null;
  }): StagedRow {
    const first = parts.predictions[0];
    const confidence = typeof first?.score === 'number' && first.score >= 0 && first.score <= 1 ? first.score : null;
    return {
      externalId: parts.externalId,
      payload: parts.payload,
      priority: parts.priority,
      prediction: first ? JSON.stringify(first.answer) : null,
      confidence,
      model: first?.model_version ?? null,
      gold: parts.gold,
      predictions: parts.predictions.length ? JSON.stringify(parts.predictions) : null,
      priorAnnotations: parts.priorAnnotations.length ? JSON.stringify(parts.priorAnnotations) : null,
      imageSizes: parts.imageSizes && Object.keys(parts.imageSizes).length ? JSON.stringify(parts.imageSizes) : null,
    };
  }
}
