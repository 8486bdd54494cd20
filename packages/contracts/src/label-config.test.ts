import { describe, expect, it } from 'vitest';
import { answerContextKey, answerContextOf, answerSchemaFor, parseLabelConfig, safeParseLabelConfig, taskTypeOf, validateAnswer, type LabelConfig } from './label-config.js';

const config: LabelConfig = parseLabelConfig({
  objects: [
    { name: 'image', type: 'image', value: '$image' },
    { name: 'text', type: 'text', value: '$text' },
  ],
  controls: [
    { name: 'sentiment', type: 'choices', to_name: 'text', choices: ['Positive', 'Negative ', 'Neutral\n'], required: true },
    { name: 'topics', type: 'choices', to_name: 'text', choices: ['a', 'b', 'c'], multiple: true, max: 2 },
    { name: 'ner', type: 'labels', to_name: 'text', labels: ['PER', 'ORG'], allow_overlap: false },
    { name: 'box', type: 'rectangle', to_name: 'image', labels: ['Car', 'Tree'], max: 3 },
    { name: 'poly', type: 'polygon', to_name: 'image', labels: ['Road'] },
    { name: 'kp', type: 'keypoint', to_name: 'image', labels: ['Eye'] },
    { name: 'comment', type: 'textarea', to_name: 'text', max_length: 10, max_items: 2 },
    { name: 'stars', type: 'rating', to_name: 'text', max_rating: 10 },
    { name: 'price', type: 'number', to_name: 'image', min: 0, max: 100 },
    { name: 'colour', type: 'choices', to_name: 'image', choices: ['red', 'blue'], per_region: true },
    { name: 'note', type: 'textarea', to_name: 'image', per_region: true },
  ],
});

const paths = (answer: unknown, context = {}) => {
  const r = validateAnswer(config, answer, context);
  return r.success ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
};

describe('v2 configs', () => {
  it('fill defaults and keep values byte-exact', () => {
    expect(config.controls[0]).toEqual({ name: 'sentiment', type: 'choices', to_name: 'text', choices: ['Positive', 'Negative ', 'Neutral\n'], multiple: false, required: true, per_region: false });
    expect(config.controls[3]).toMatchObject({ multiple: false, can_rotate: true, required: false });
    expect(config.version).toBe(2);
  });

  it('report each wrong field by its path', () => {
    const issues = (c: unknown) => {
      const r = safeParseLabelConfig(c);
      return r.success ? [] : r.issues.map((i) => i.path);
    };
    const objects = [{ name: 'text', type: 'text', value: '$text' }];
    expect(issues({ objects, controls: [{ name: 'c', type: 'choices', to_name: 'nope', choices: ['a'] }] })).toEqual(['controls.0.to_name']);
    expect(issues({ objects, controls: [{ name: 'c', type: 'rectangle', to_name: 'text', labels: ['a'] }] })).toEqual(['controls.0.to_name']);
    expect(issues({ objects, controls: [{ name: 'text', type: 'choices', to_name: 'text', choices: ['a'] }] })).toEqual(['controls.0.name']);
    expect(issues({ objects, controls: [{ name: 'c', type: 'choices', to_name: 'text', choices: ['a', 'a'] }] })).toEqual(['controls.0.choices.1']);
    expect(issues({ objects, controls: [{ name: 'c', type: 'choices', to_name: 'text', choices: ['a'], per_region: true }] })).toEqual(['controls.0.per_region']);
    expect(issues({ objects: [{ name: 'i', type: 'image', value: 'image' }], controls: [{ name: 'c', type: 'video', to_name: 'i' }] })).toEqual(['objects.0.value', 'controls.0.type']);
    expect(issues({ objects, controls: [] })).toEqual(['controls']);
  });

  it('have a kind', () => {
    expect(taskTypeOf(config)).toBe('custom');
    expect(taskTypeOf(parseLabelConfig({ objects: [{ name: 't', type: 'text', value: '$t' }], controls: [{ name: 'c', type: 'choices', to_name: 't', choices: ['a', 'b'] }] }))).toBe('classification');
  });
});

describe('v2 answers', () => {
  const valid = {
    sentiment: { choices: ['Neutral\n'] },
    topics: { choices: ['a', 'c'] },
    ner: { spans: [{ id: 'n1', start: 0, end: 4, labels: ['PER'], text: 'John' }] },
    box: { boxes: [{ id: 'b1', labels: ['Car'], x: 10, y: 10, width: 20, height: 20, rotation: 30, attributes: { colour: { choices: ['red'] }, note: { text: ['dented'] } } }] },
    poly: { polygons: [{ labels: ['Road'], points: [[0, 0], [50, 0], [50, 50]] }] },
    kp: { keypoints: [{ labels: ['Eye'], x: 5, y: 5, width: 1 }] },
    comment: { text: ['fine'] },
    stars: { rating: 7 },
    price: { number: 12.5 },
  };

  it('accept one value per control, keyed by name', () => {
    expect(paths(valid)).toEqual([]);
    expect(paths({ sentiment: { choices: ['Positive'] } })).toEqual([]);
  });

  it('name the control and the field that is wrong', () => {
    expect(paths({})).toEqual(['sentiment: Invalid input: expected object, received undefined']);
    expect(paths({ sentiment: { choices: ['Neutral'] } })).toEqual(['sentiment.choices.0: "Neutral" is not one of the choices']);
    expect(paths({ sentiment: { choices: ['Positive', 'Neutral\n'] } })).toEqual(['sentiment.choices: pick exactly one']);
    expect(paths({ ...valid, topics: { choices: ['a', 'b', 'c'] } })).toEqual(['topics.choices: pick at most 2']);
    expect(paths({ ...valid, box: { boxes: [{ labels: ['Bus'], x: 90, y: 0, width: 20, height: 5 }] } })).toEqual([
      'box.boxes.0.labels.0: "Bus" is not one of the box\'s labels',
      'box.boxes.0.width: the box reaches x=110, past the right edge (100)',
    ]);
    expect(paths({ ...valid, box: { boxes: [{ labels: ['Car'], x: 10, y: 10, width: 5, height: 5, attributes: { sentiment: { choices: ['Positive'] } } }] } })).toEqual([
      'box.boxes.0.attributes: Unrecognized key: "sentiment"',
    ]);
    expect(paths({ ...valid, colour: { choices: ['red'] } })).toEqual(['colour: "colour" is answered per region, in each region\'s attributes']);
    expect(paths({ ...valid, mood: 1 })[0]).toMatch(/^mood: not a control of this job/);
    expect(paths({ ...valid, stars: { rating: 11 } })).toEqual(['stars.rating: at most 10']);
    expect(paths({ ...valid, price: { number: -1 } })).toEqual(['price.number: at least 0']);
    expect(paths({ ...valid, comment: { text: ['far too long a comment'] } })).toEqual(['comment.text.0: at most 10 characters']);
    expect(paths({ ...valid, poly: { polygons: [{ labels: ['Road'], points: [[0, 0], [1, 1]] }] } })).toEqual(['poly.polygons.0.points: a polygon needs at least 3 points']);
    expect(paths({ ...valid, kp: { keypoints: [{ labels: ['Eye'], x: 101, y: 5 }] } })[0]).toMatch(/^kp.keypoints.0.x: above 100/);
  });

  it('check spans against the text they mark, and overlaps when the control forbids them', () => {
    const context = answerContextOf({ text: 'John works', image: 'x.jpg' });
    expect(answerContextKey(config, context)).toBe('10');
    expect(paths({ ...valid, ner: { spans: [{ start: 5, end: 11, labels: ['ORG'] }] } }, context)).toEqual(['ner.spans.0.end: end (11) is past the end of the text (10)']);
    expect(paths({ ...valid, ner: { spans: [{ start: 0, end: 4, labels: ['PER'] }, { start: 2, end: 6, labels: ['ORG'] }] } })).toEqual([
      'ner.spans.1: overlaps span 0; this control does not allow overlapping spans',
    ]);
  });

  it('refuse a region id used twice in one answer', () => {
    const twice = { ...valid, kp: { keypoints: [{ id: 'b1', labels: ['Eye'], x: 5, y: 5 }] } };
    expect(paths(twice)).toEqual(['kp.keypoints.0.id: region id "b1" is also used at box.boxes.0']);
  });

  it('build one schema per relevant context', () => {
    expect(answerContextKey(config, answerContextOf({ image: 'a.jpg' }))).toBe('');
    expect(answerSchemaFor(config).safeParse(valid).success).toBe(true);
  });
});
