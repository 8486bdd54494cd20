import type { TaskTypeName } from '@fairlabel/contracts';

/**
 * Label Studio's task and result formats, translated to and from fairlabel answers, so a Label Studio
 * user's task files import unchanged and an export re-imports into the same tasks.
 * https://labelstud.io/guide/task_format: results are `{from_name, to_name, type, value}`; boxes are
 * in percent of `original_width`/`original_height`.
 */

export interface LabelStudioResult {
  from_name?: string;
  to_name?: string;
  type: string;
  value: Record<string, unknown>;
  original_width?: number;
  original_height?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Label Studio tasks carry keys a fairlabel item never has; that tells the two apart in a JSON array. */
export function looksLikeLabelStudioTask(item: unknown): boolean {
  return isObject(item) && isObject(item.data) && ('predictions' in item || 'annotations' in item || 'id' in item || 'meta' in item);
}

function strings(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

/** A fairlabel answer from one Label Studio result list (of one annotation or prediction), or a reason it has none. */
export function answerFromLabelStudio(taskType: TaskTypeName, result: unknown, data: Record<string, unknown>): { answer: unknown } | { error: string } {
  if (!Array.isArray(result) || !result.every((r) => isObject(r) && isObject(r.value))) return { error: 'result must be a list of {type, value} objects' };
  const items = result as LabelStudioResult[];
  switch (taskType) {
    case 'classification':
    case 'multi_label': {
      const choices = items.flatMap((r) => strings(r.value.choices) ?? []);
      if (taskType === 'multi_label') return { answer: { labels: choices } };
      if (choices.length !== 1) return { error: `a classification result needs exactly one choice, found ${choices.length}` };
      return { answer: { label: choices[0] } };
    }
    case 'bounding_boxes': {
      const boxes = [];
      for (const r of items) {
        const v = r.value;
        const label = strings(v.rectanglelabels)?.[0];
        const width = r.original_width ?? (typeof data.image_width === 'number' ? data.image_width : undefined);
        const height = r.original_height ?? (typeof data.image_height === 'number' ? data.image_height : undefined);
        if (!label || typeof v.x !== 'number' || typeof v.y !== 'number' || typeof v.width !== 'number' || typeof v.height !== 'number') {
          return { error: 'a rectanglelabels result needs x, y, width, height and one label' };
        }
        if (width === undefined || height === undefined) return { error: 'a rectanglelabels result needs original_width and original_height to convert percent to pixels' };
        const px = (pct: number, of: number) => Math.round(((pct * of) / 100) * 1000) / 1000;
        boxes.push({ label, x: px(v.x, width), y: px(v.y, height), width: px(v.width, width), height: px(v.height, height) });
      }
      return { answer: { boxes } };
    }
    case 'text_spans': {
      const spans = [];
      for (const r of items) {
        const label = strings(r.value.labels)?.[0];
        if (!label || typeof r.value.start !== 'number' || typeof r.value.end !== 'number') return { error: 'a labels result needs start, end and one label' };
        spans.push({ start: r.value.start, end: r.value.end, label });
      }
      return { answer: { spans } };
    }
    case 'transcription':
    case 'free_text': {
      const texts = items.flatMap((r) => strings(r.value.text) ?? []);
      return { answer: { text: texts.join('\n') } };
    }
  }
}

/** The inverse of answerFromLabelStudio, for exports. */
export function answerToLabelStudio(taskType: TaskTypeName, answer: unknown, data: Record<string, unknown>): LabelStudioResult[] {
  const a = (isObject(answer) ? answer : {}) as Record<string, unknown>;
  switch (taskType) {
    case 'classification':
      return [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: [a.label] } }];
    case 'multi_label':
      return [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: a.labels ?? [] } }];
    case 'bounding_boxes': {
      const w = typeof data.image_width === 'number' ? data.image_width : undefined;
      const h = typeof data.image_height === 'number' ? data.image_height : undefined;
      const boxes = (Array.isArray(a.boxes) ? a.boxes : []) as { label: string; x: number; y: number; width: number; height: number }[];
      return boxes.map((b) => ({
        from_name: 'label',
        to_name: 'image',
        type: 'rectanglelabels',
        ...(w !== undefined && h !== undefined ? { original_width: w, original_height: h } : {}),
        value: {
          x: w ? (b.x * 100) / w : b.x,
          y: h ? (b.y * 100) / h : b.y,
          width: w ? (b.width * 100) / w : b.width,
          height: h ? (b.height * 100) / h : b.height,
          rectanglelabels: [b.label],
        },
      }));
    }
    case 'text_spans': {
      const spans = (Array.isArray(a.spans) ? a.spans : []) as { start: number; end: number; label: string }[];
      return spans.map((s) => ({ from_name: 'label', to_name: 'text', type: 'labels', value: { start: s.start, end: s.end, labels: [s.label] } }));
    }
    case 'transcription':
    case 'free_text':
      return [{ from_name: 'answer', to_name: 'item', type: 'textarea', value: { text: [a.text ?? ''] } }];
  }
}
