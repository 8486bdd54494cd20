import { describe, expect, it } from 'vitest';
import { answerFromLegacy, labelConfigFromLegacy, safeParseLegacyLabelConfig } from './label-config-legacy.js';
import { validateAnswer } from './label-config.js';

describe('the first API\'s configs', () => {
  it('are still checked field by field', () => {
    const paths = (t: Parameters<typeof safeParseLegacyLabelConfig>[0], c: unknown) => {
      const r = safeParseLegacyLabelConfig(t, c);
      return r.success ? [] : r.issues.map((i) => i.path);
    };
    expect(paths('classification', { labels: ['only'] })).toEqual(['labels']);
    expect(paths('classification', { labels: ['a', 'b', 'a'] })).toEqual(['labels.2']);
    expect(paths('multi_label', { labels: ['a', 'b'], max_picks: 5 })).toEqual(['max_picks']);
    expect(paths('bounding_boxes', { labels: ['car'], image_width: 100 })).toEqual(['image_height']);
    expect(paths('free_text', {})).toEqual(['max_length']);
  });

  it('convert to one named control on one object, and values are no longer trimmed', () => {
    expect(labelConfigFromLegacy('classification', { labels: ['cat', 'dog\n'] })).toEqual({
      version: 2,
      objects: [{ name: 'item', type: 'text', value: '$text' }],
      controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['cat', 'dog\n'], multiple: false, required: true, per_region: false }],
    });
    expect(labelConfigFromLegacy('multi_label', { labels: ['a', 'b', 'c'], min_picks: 0 }).controls[0]).toMatchObject({ type: 'choices', multiple: true, min: 0, max: 3, required: false });
    const boxes = labelConfigFromLegacy('bounding_boxes', { labels: ['car'], image_width: 200, image_height: 100, min_width: 2, min_height: 1 });
    expect(boxes.objects).toEqual([{ name: 'image', type: 'image', value: '$image', width: 200, height: 100 }]);
    expect(boxes.controls[0]).toMatchObject({ type: 'rectangle', labels: ['car'], can_rotate: false, min_width: 1, min_height: 1 });
    expect(labelConfigFromLegacy('text_spans', { entity_types: ['PER'] }).controls[0]).toMatchObject({ name: 'label', type: 'labels', to_name: 'text', allow_overlap: false });
    expect(labelConfigFromLegacy('transcription', { max_length: 10 }).controls[0]).toMatchObject({ name: 'answer', type: 'textarea', max_items: 1, max_length: 10 });
    // The object comes from a sample item when there is one.
    expect(labelConfigFromLegacy('classification', { labels: ['a', 'b'] }, { image: 'https://x/1.jpg' }).objects[0]).toEqual({ name: 'item', type: 'image', value: '$image' });
  });

  it('answers convert to the v2 shapes; pixel boxes need the image size', () => {
    expect(answerFromLegacy('classification', { label: 'cat' })).toEqual({ answer: { label: { choices: ['cat'] } } });
    expect(answerFromLegacy('multi_label', { labels: ['a'] })).toEqual({ answer: { label: { choices: ['a'] } } });
    expect(answerFromLegacy('free_text', { text: 'hi' })).toEqual({ answer: { answer: { text: ['hi'] } } });
    expect(answerFromLegacy('text_spans', { spans: [{ start: 0, end: 2, label: 'PER' }] })).toEqual({ answer: { label: { spans: [{ start: 0, end: 2, labels: ['PER'] }] } } });
    expect(answerFromLegacy('bounding_boxes', { boxes: [{ label: 'car', x: 20, y: 10, width: 100, height: 50 }] }, { width: 200, height: 100 })).toEqual({
      answer: { label: { boxes: [{ labels: ['car'], x: 10, y: 10, width: 50, height: 50 }] } },
    });
    expect(answerFromLegacy('bounding_boxes', { boxes: [{ label: 'car', x: 1, y: 1, width: 1, height: 1 }] })).toMatchObject({ error: expect.stringMatching(/image size/) });
    expect(answerFromLegacy('classification', { label: { choices: ['cat'] } })).toBeNull();
    const config = labelConfigFromLegacy('classification', { labels: ['cat', 'dog'] });
    expect(validateAnswer(config, (answerFromLegacy('classification', { label: 'cat' }) as { answer: unknown }).answer).success).toBe(true);
  });
});
