import { describe, expect, it } from 'vitest';
import { answerSchemaFor, LabelConfigError, parseLabelConfig, safeParseLabelConfig, validateAnswer } from './label-config.js';

function issuePaths(taskType: Parameters<typeof safeParseLabelConfig>[0], config: unknown): string[] {
  const r = safeParseLabelConfig(taskType, config);
  if (r.success) throw new Error(`expected ${JSON.stringify(config)} to be invalid`);
  return r.issues.map((i) => i.path);
}

describe('classification', () => {
  const config = { labels: ['cat', 'dog', 'other'] };
  it('accepts a label list and rejects short, duplicate or extra-keyed configs', () => {
    expect(parseLabelConfig('classification', config)).toEqual(config);
    expect(issuePaths('classification', { labels: ['only'] })).toEqual(['labels']);
    expect(issuePaths('classification', { labels: ['a', 'b', 'a'] })).toEqual(['labels.2']);
    expect(issuePaths('classification', { labels: ['a', ''] })).toEqual(['labels.1']);
    expect(issuePaths('classification', { labels: ['a', 'b'], colour: 'red' })).toEqual(['']);
    expect(issuePaths('classification', {})).toEqual(['labels']);
  });
  it('answers are one label of the list', () => {
    const schema = answerSchemaFor('classification', config);
    expect(schema.safeParse({ label: 'dog' }).success).toBe(true);
    expect(validateAnswer('classification', config, { label: 'horse' })).toMatchObject({ success: false, issues: [{ path: 'label' }] });
    expect(schema.safeParse({ label: ['dog'] }).success).toBe(false);
    expect(schema.safeParse('dog').success).toBe(false);
    expect(schema.safeParse({ label: 'dog', extra: 1 }).success).toBe(false);
  });
});

describe('multi_label', () => {
  const config = { labels: ['red', 'green', 'blue'], min_picks: 1, max_picks: 2 };
  it('fills max_picks from the labels and checks min <= max <= labels', () => {
    expect(parseLabelConfig('multi_label', { labels: ['a', 'b'] })).toEqual({ labels: ['a', 'b'], min_picks: 1, max_picks: 2 });
    expect(issuePaths('multi_label', { labels: ['a', 'b'], max_picks: 3 })).toEqual(['max_picks']);
    expect(issuePaths('multi_label', { labels: ['a', 'b', 'c'], min_picks: 3, max_picks: 2 })).toEqual(['min_picks']);
    expect(issuePaths('multi_label', { labels: [] })).toEqual(['labels']);
    expect(issuePaths('multi_label', { labels: ['a'], min_picks: -1 })).toEqual(['min_picks']);
  });
  it('answers pick between min and max distinct labels of the list', () => {
    const v = (answer: unknown) => validateAnswer('multi_label', config, answer);
    expect(v({ labels: ['red'] }).success).toBe(true);
    expect(v({ labels: ['red', 'blue'] }).success).toBe(true);
    expect(v({ labels: [] })).toMatchObject({ success: false, issues: [{ path: 'labels', message: 'pick at least 1' }] });
    expect(v({ labels: ['red', 'green', 'blue'] })).toMatchObject({ success: false, issues: [{ path: 'labels' }] });
    expect(v({ labels: ['red', 'red'] })).toMatchObject({ success: false, issues: [{ path: 'labels.1' }] });
    expect(v({ labels: ['purple'] })).toMatchObject({ success: false, issues: [{ path: 'labels.0' }] });
  });
});

describe('bounding_boxes', () => {
  it('validates labels, sizes and that image width and height go together', () => {
    expect(parseLabelConfig('bounding_boxes', { labels: ['car'] })).toMatchObject({ min_width: 1, min_height: 1, min_boxes: 0, max_boxes: 1000 });
    expect(issuePaths('bounding_boxes', { labels: ['car'], image_width: 640 })).toEqual(['image_height']);
    expect(issuePaths('bounding_boxes', { labels: ['car'], min_width: 0 })).toEqual(['min_width']);
    expect(issuePaths('bounding_boxes', { labels: ['car'], min_boxes: 5, max_boxes: 2 })).toEqual(['min_boxes']);
    expect(issuePaths('bounding_boxes', { labels: ['car'], image_width: 10, image_height: 10, min_width: 20 })).toEqual(['min_width']);
  });
  it('boxes have a known label, the minimum size, and stay inside the image', () => {
    const config = { labels: ['car', 'person'], image_width: 640, image_height: 480, min_width: 2, min_height: 2 };
    const v = (answer: unknown) => validateAnswer('bounding_boxes', config, answer);
    expect(v({ boxes: [{ label: 'car', x: 0, y: 0, width: 640, height: 480 }] }).success).toBe(true);
    expect(v({ boxes: [] }).success).toBe(true);
    expect(v({ boxes: [{ label: 'car', x: 600, y: 0, width: 50, height: 10 }] })).toMatchObject({ success: false, issues: [{ path: 'boxes.0.width' }] });
    expect(v({ boxes: [{ label: 'car', x: 0, y: 470, width: 10, height: 20 }] })).toMatchObject({ success: false, issues: [{ path: 'boxes.0.height' }] });
    expect(v({ boxes: [{ label: 'car', x: -1, y: 0, width: 10, height: 10 }] })).toMatchObject({ success: false, issues: [{ path: 'boxes.0.x' }] });
    expect(v({ boxes: [{ label: 'car', x: 0, y: 0, width: 1, height: 10 }] })).toMatchObject({ success: false, issues: [{ path: 'boxes.0.width' }] });
    expect(v({ boxes: [{ label: 'truck', x: 0, y: 0, width: 10, height: 10 }] })).toMatchObject({ success: false, issues: [{ path: 'boxes.0.label' }] });
    expect(v({ boxes: [{ label: 'car', x: 0, y: 0, width: 10 }] }).success).toBe(false);
  });
  it('takes the image size from the item when the config has none', () => {
    const config = { labels: ['car'] };
    const box = { boxes: [{ label: 'car', x: 90, y: 0, width: 20, height: 5 }] };
    expect(validateAnswer('bounding_boxes', config, box).success).toBe(true);
    expect(validateAnswer('bounding_boxes', config, box, { image_width: 100, image_height: 100 }).success).toBe(false);
  });
});

describe('text_spans', () => {
  const config = { entity_types: ['PER', 'ORG', 'LOC'] };
  it('needs entity types', () => {
    expect(parseLabelConfig('text_spans', config)).toEqual({ entity_types: ['PER', 'ORG', 'LOC'], allow_overlap: false, max_spans: 10000 });
    expect(issuePaths('text_spans', { entity_types: [] })).toEqual(['entity_types']);
    expect(issuePaths('text_spans', { labels: ['PER'] })).toEqual(['entity_types', '']);
  });
  it('spans have start < end, a known entity type, no overlap unless allowed, and stay in the text', () => {
    const v = (answer: unknown, c: object = config, ctx = {}) => validateAnswer('text_spans', c, answer, ctx);
    expect(v({ spans: [{ start: 0, end: 5, label: 'PER' }, { start: 10, end: 13, label: 'LOC' }] }).success).toBe(true);
    expect(v({ spans: [{ start: 5, end: 5, label: 'PER' }] })).toMatchObject({ success: false, issues: [{ path: 'spans.0.end' }] });
    expect(v({ spans: [{ start: 0, end: 5, label: 'DATE' }] })).toMatchObject({ success: false, issues: [{ path: 'spans.0.label' }] });
    const overlapping = { spans: [{ start: 4, end: 9, label: 'ORG' }, { start: 0, end: 5, label: 'PER' }] };
    expect(v(overlapping)).toMatchObject({ success: false, issues: [{ path: 'spans.0' }] });
    expect(v(overlapping, { ...config, allow_overlap: true }).success).toBe(true);
    expect(v({ spans: [{ start: 0, end: 20, label: 'PER' }] }, config, { text_length: 10 })).toMatchObject({ success: false, issues: [{ path: 'spans.0.end' }] });
  });
});

describe('transcription and free_text', () => {
  it('need a max length at least the min length', () => {
    for (const t of ['transcription', 'free_text'] as const) {
      expect(parseLabelConfig(t, { max_length: 10 })).toEqual({ min_length: 0, max_length: 10 });
      expect(issuePaths(t, {})).toEqual(['max_length']);
      expect(issuePaths(t, { max_length: 0 })).toEqual(['max_length']);
      expect(issuePaths(t, { max_length: 5, min_length: 6 })).toEqual(['min_length']);
      expect(issuePaths(t, { max_length: 1_000_000 })).toEqual(['max_length']);
    }
  });
  it('answers are text within the limits', () => {
    for (const t of ['transcription', 'free_text'] as const) {
      const config = { min_length: 2, max_length: 5 };
      expect(validateAnswer(t, config, { text: 'hello' }).success).toBe(true);
      expect(validateAnswer(t, config, { text: 'hello!' })).toMatchObject({ success: false, issues: [{ path: 'text', message: 'at most 5 characters' }] });
      expect(validateAnswer(t, config, { text: 'h' })).toMatchObject({ success: false, issues: [{ path: 'text' }] });
      expect(validateAnswer(t, config, { text: 5 }).success).toBe(false);
    }
  });
});

describe('errors', () => {
  it('an invalid config throws a LabelConfigError listing every issue, also from answerSchemaFor', () => {
    expect(() => parseLabelConfig('classification', { labels: [] })).toThrow(LabelConfigError);
    expect(() => answerSchemaFor('free_text', { max_length: -1 })).toThrow(/max_length/);
    expect(() => answerSchemaFor('video' as never, {})).toThrow(/unknown task type/);
    expect(safeParseLabelConfig('video' as never, {})).toMatchObject({ success: false });
  });
});
