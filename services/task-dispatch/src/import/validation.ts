import { answerSchemaFor, importItemSchema, issuesOf, type AnswerContext, type TaskTypeName } from '@fairlabel/contracts';
import type { z } from 'zod';

/**
 * One imported item checked against the job's label config and turned into the row the COPY writer
 * encodes: its columns as text, or the reason it is refused.
 */

export interface StagedRow {
  externalId: string | null;
  payload: string;
  priority: number;
  prediction: string | null;
  confidence: number | null;
  model: string | null;
  gold: string | null;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type ItemSchema = z.infer<typeof importItemSchema>;

/** No NUL characters: Postgres text and jsonb cannot store them, and one would fail the whole batch. */
const hasNul = (s: string) => s.includes('\u0000') || s.includes('\\u0000');

const plainItemKeys = new Set(['external_id', 'data', 'priority']);

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
  return { externalId: externalId ?? null, payload, priority: (priority as number | undefined) ?? 0, prediction: null, confidence: null, model: null, gold: null };
}

export class ItemValidator {
  private readonly plainAnswer: z.ZodType;
  constructor(
    private readonly taskType: TaskTypeName,
    private readonly labelConfig: unknown,
  ) {
    this.plainAnswer = answerSchemaFor(taskType, labelConfig);
  }

  /** Box and span bounds depend on the item (its image size, its text); other checks do not. */
  private answerSchema(data: Record<string, unknown>): z.ZodType {
    const context: AnswerContext = {};
    if (this.taskType === 'bounding_boxes' && typeof data.image_width === 'number' && typeof data.image_height === 'number') {
      context.image_width = data.image_width;
      context.image_height = data.image_height;
    }
    if (this.taskType === 'text_spans' && typeof data.text === 'string') context.text_length = data.text.length;
    return Object.keys(context).length ? answerSchemaFor(this.taskType, this.labelConfig, context) : this.plainAnswer;
  }

  check(value: unknown): StagedRow | { error: string; externalId?: string } {
    const plain = plainItem(value);
    if (plain) return plain;
    const parsed = importItemSchema.safeParse(value);
    if (!parsed.success) {
      const externalId = isObject(value) && typeof value.external_id === 'string' ? value.external_id : undefined;
      return { error: issuesOf(parsed.error).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), ...(externalId ? { externalId } : {}) };
    }
    const item: ItemSchema = parsed.data;
    const fail = (error: string) => ({ error, ...(item.external_id !== undefined ? { externalId: item.external_id } : {}) });
    if (item.data && item.payload) return fail('give `data` or `payload`, not both');
    const data = item.data ?? item.payload;
    if (!data) return fail('data: the item needs a `data` object (what workers see)');
    if (item.external_id !== undefined && hasNul(item.external_id)) return fail('external_id: contains a NUL character');
    let gold: string | null = null;
    let prediction: string | null = null;
    const answers = this.answerSchema(data);
    if (item.gold !== undefined && item.gold !== null) {
      const g = answers.safeParse(item.gold);
      if (!g.success) return fail(`gold is not a valid answer for this job: ${issuesOf(g.error).map((i) => `${i.path || '(answer)'}: ${i.message}`).join('; ')}`);
      gold = JSON.stringify(g.data);
    }
    if (item.prediction) {
      const p = answers.safeParse(item.prediction.answer);
      if (!p.success) return fail(`prediction.answer is not a valid answer for this job: ${issuesOf(p.error).map((i) => `${i.path || '(answer)'}: ${i.message}`).join('; ')}`);
      prediction = JSON.stringify(p.data);
    }
    const payload = JSON.stringify(data);
    if (hasNul(payload)) return fail('data: contains a NUL character, which cannot be stored');
    const model = item.prediction?.model_version ?? null;
    if (model !== null && hasNul(model)) return fail('prediction.model_version: contains a NUL character');
    return {
      externalId: item.external_id ?? null,
      payload,
      priority: item.priority ?? 0,
      prediction,
      confidence: item.prediction?.confidence ?? null,
      model,
      gold,
    };
  }
}
