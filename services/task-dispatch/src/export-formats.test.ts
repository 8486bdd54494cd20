import { describe, expect, it } from 'vitest';
import { parseLabelConfig } from '@fairlabel/contracts';
import { answerFromResults } from './labelstudio/results.js';
import {
  boxCorners,
  cocoAnnotations,
  cocoCategories,
  cocoImage,
  conllDocument,
  csvCell,
  csvHeader,
  csvRow,
  jsonlLine,
  labelStudioTask,
  tarEntry,
  yoloLines,
  yoloStem,
  type ExportJob,
  type ExportTask,
} from './export-formats.js';

const classification: ExportJob = {
  id: 'job-1',
  name: 'pets',
  task_type: 'classification',
  label_config: parseLabelConfig({ objects: [{ name: 'item', type: 'text', value: '$text' }], controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['cat', 'dog'] }] }),
};
const boxes: ExportJob = {
  id: 'job-2',
  name: 'streets',
  task_type: 'bounding_boxes',
  label_config: parseLabelConfig({
    objects: [{ name: 'image', type: 'image', value: '$image', width: 200, height: 100 }],
    controls: [
      { name: 'label', type: 'rectangle', to_name: 'image', labels: ['car', 'person'] },
      { name: 'colour', type: 'choices', to_name: 'image', choices: ['red', 'blue'], per_region: true },
    ],
  }),
};

const decidedAt = new Date('2026-11-27T10:00:00.000Z');
const submittedAt = new Date('2026-11-27T09:00:00.000Z');
const cat = { label: { choices: ['cat'] } };
const dog = { label: { choices: ['dog'] } };

function task(overrides: Partial<ExportTask> = {}): ExportTask {
  return {
    id: 7,
    external_id: 'a-7',
    status: 'decided',
    payload: { text: 'a cat, "sitting"\non a mat' },
    result: cat,
    agreement: 0.5,
    decided_at: decidedAt,
    gold: cat,
    prediction: dog,
    prediction_confidence: 0.25,
    prediction_model: 'resnet-1',
    predictions: null,
    prior_annotations: null,
    image_sizes: null,
    ...overrides,
  };
}

const annotations = [
  { assignment_id: 1, worker_id: 'w1', vendor_id: 'v1', status: 'accepted', answer: cat, time_spent_ms: 1500, submitted_at: submittedAt },
  { assignment_id: 2, worker_id: 'w2', vendor_id: 'v1', status: 'rejected', answer: dog, time_spent_ms: 900, submitted_at: submittedAt },
];

describe('jsonl', () => {
  it('writes one JSON object per line with every field', () => {
    const line = jsonlLine(task({ annotations }));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      task_id: 7,
      external_id: 'a-7',
      status: 'decided',
      payload: { text: 'a cat, "sitting"\non a mat' },
      result: cat,
      agreement: 0.5,
      decided_at: '2026-11-27T10:00:00.000Z',
      gold: cat,
      prediction: { value: dog, confidence: 0.25, model: 'resnet-1' },
      predictions: [{ answer: dog, model_version: 'resnet-1', score: 0.25 }],
      prior_annotations: [],
      annotations: [
        { assignment_id: 1, worker_id: 'w1', vendor_id: 'v1', status: 'accepted', answer: cat, time_spent_ms: 1500, submitted_at: '2026-11-27T09:00:00.000Z' },
        { assignment_id: 2, worker_id: 'w2', vendor_id: 'v1', status: 'rejected', answer: dog, time_spent_ms: 900, submitted_at: '2026-11-27T09:00:00.000Z' },
      ],
    });
  });

  it('leaves annotations out unless asked for, and shows open tasks with null results', () => {
    const parsed = JSON.parse(jsonlLine(task({ status: 'open', result: null, agreement: null, decided_at: null, prediction: null, gold: null })));
    expect(parsed).not.toHaveProperty('annotations');
    expect(parsed).toMatchObject({ status: 'open', result: null, agreement: null, decided_at: null, prediction: null, gold: null, predictions: [] });
  });
});

describe('csv', () => {
  it('quotes cells per RFC 4180', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(0.5)).toBe('0.5');
  });

  it('writes a header and one row per task, structured columns as JSON', () => {
    expect(csvHeader(false)).toBe('task_id,external_id,status,result,agreement,decided_at,payload,gold,prediction,prediction_confidence,prediction_model,predictions,prior_annotations\r\n');
    expect(csvHeader(true).trimEnd().split(',').at(-1)).toBe('annotations');
    const row = csvRow(task({ prediction: null, prediction_confidence: null, prediction_model: null }));
    expect(row).toBe(
      '7,a-7,decided,"{""label"":{""choices"":[""cat""]}}",0.5,2026-11-27T10:00:00.000Z,' +
        '"{""text"":""a cat, \\""sitting\\""\\non a mat""}",' +
        '"{""label"":{""choices"":[""cat""]}}",,,,[],[]\r\n',
    );
  });
});

describe('geometry', () => {
  it('rotates a box clockwise about its top-left corner', () => {
    const corners = boxCorners({ labels: [], x: 10, y: 10, width: 10, height: 20, rotation: 90 }, { width: 100, height: 100 });
    expect(corners.map(([x, y]) => [Math.round(x), Math.round(y)])).toEqual([
      [10, 10],
      [10, 20],
      [-10, 20],
      [-10, 10],
    ]);
  });
});

describe('coco', () => {
  const controls = boxes.label_config.controls.filter((c) => c.type === 'rectangle');
  it('numbers categories from the labels and writes boxes in pixels as [x, y, width, height]', () => {
    expect(cocoCategories(controls)).toEqual([
      { id: 1, name: 'car', supercategory: '' },
      { id: 2, name: 'person', supercategory: '' },
    ]);
    const t = task({ payload: { image: 'https://img/1.jpg' }, result: { label: { boxes: [{ id: 'r1', labels: ['person'], x: 5, y: 20, width: 15, height: 40 }] } } });
    expect(cocoImage(boxes, controls, t)).toEqual({ id: 7, file_name: 'https://img/1.jpg', width: 200, height: 100, external_id: 'a-7', status: 'decided', agreement: 0.5 });
    let n = 0;
    expect(cocoAnnotations(boxes, controls, t, t.result, () => ++n)).toEqual({
      sized: [{ id: 1, image_id: 7, category_id: 2, bbox: [10, 20, 30, 40], area: 1200, iscrowd: 0, control: 'label', region_id: 'r1', segmentation: [] }],
      unsized: [],
    });
  });

  it('writes a rotated box as its polygon and the box around it; without an image size, in percent apart', () => {
    const job = { ...boxes, label_config: parseLabelConfig({ objects: [{ name: 'image', type: 'image', value: '$image' }], controls: [{ name: 'label', type: 'rectangle', to_name: 'image', labels: ['car'] }] }) };
    const c = job.label_config.controls;
    const answer = { label: { boxes: [{ labels: ['car'], x: 10, y: 10, width: 10, height: 10, rotation: 90 }] } };
    let n = 0;
    const sized = cocoAnnotations(job, c, task({ image_sizes: { image: { width: 100, height: 100 } } }), answer, () => ++n).sized[0]!;
    expect(sized).toMatchObject({ bbox: [0, 10, 10, 10], area: 100, attributes: { rotation: 90 } });
    expect(sized.segmentation).toHaveLength(1);
    const unsized = cocoAnnotations(job, c, task({ payload: {} }), answer, () => ++n);
    expect(unsized.sized).toEqual([]);
    expect(unsized.unsized[0]).toMatchObject({ bbox_percent: [0, 10, 10, 10] });
  });
});

describe('yolo', () => {
  const controls = boxes.label_config.controls.filter((c) => c.type === 'rectangle');
  it('writes class x_center y_center width height in 0..1, and pairs files by image stem', () => {
    const t = task({ payload: { image: 'https://img/a/photo%201.JPG?x=1' }, result: { label: { boxes: [{ labels: ['person'], x: 10, y: 20, width: 30, height: 40 }] } } });
    expect(yoloLines(boxes, controls, t, t.result)).toBe('1 0.25 0.4 0.3 0.4\n');
    expect(yoloStem(boxes, controls, t)).toBe('photo_201');
  });

  it('packs files in a ustar archive, long names in a PAX header', () => {
    const entry = tarEntry('labels/a.txt', Buffer.from('0 0.5 0.5 1 1\n'), new Date(0));
    expect(entry.length).toBe(1024);
    expect(entry.subarray(257, 262).toString()).toBe('ustar');
    const long = tarEntry(`labels/${'x'.repeat(120)}.txt`, Buffer.from('x'), new Date(0));
    expect(long.length).toBe(2048);
    expect(long[156]).toBe('x'.charCodeAt(0));
  });
});

describe('conll', () => {
  it('tags whole tokens B-/I-/O, splitting a word where a span starts or ends', () => {
    const text = 'Ada Lovelace met (Babbage) in London.';
    const spans = [
      { start: 0, end: 12, labels: ['PER'] },
      { start: 18, end: 25, labels: ['PER'] },
      { start: 30, end: 36, labels: ['LOC'] },
    ];
    expect(conllDocument(text, spans)).toBe(
      ['Ada -X- _ B-PER', 'Lovelace -X- _ I-PER', 'met -X- _ O', '( -X- _ O', 'Babbage -X- _ B-PER', ') -X- _ O', 'in -X- _ O', 'London -X- _ B-LOC', '. -X- _ O', '', ''].join('\n'),
    );
  });
});

describe('label studio', () => {
  it('puts gold as the ground-truth annotation, then the result and each answer, and the prediction with score and model', () => {
    const ls = labelStudioTask(classification, task({ annotations }));
    expect(ls).toMatchObject({ id: 7, data: { text: 'a cat, "sitting"\non a mat' }, meta: { fairlabel: { external_id: 'a-7', status: 'decided', agreement: 0.5 } } });
    expect(ls.annotations.map((a) => [a.fairlabel_kind, a.ground_truth])).toEqual([
      ['gold', true],
      ['result', false],
      ['annotation', false],
      ['annotation', false],
    ]);
    expect(ls.annotations[0]!.result).toEqual([{ id: 't7g1', from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }]);
    expect(ls.annotations[3]).toMatchObject({ fairlabel_worker_id: 'w2', fairlabel_status: 'rejected', lead_time: 0.9, result: [{ value: { choices: ['dog'] } }] });
    expect(ls.predictions).toEqual([{ result: [{ id: 't7p0_1', from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['dog'] } }], score: 0.25, model_version: 'resnet-1' }]);
  });

  it('writes regions in percent with id, rotation, original size and per-region results, and reads them back the same', () => {
    const answer = { label: { boxes: [{ id: 'b1', labels: ['car'], x: 10, y: 10, width: 25, height: 25, rotation: 30, attributes: { colour: { choices: ['red'] } } }] } };
    const ls = labelStudioTask(boxes, task({ payload: { image: 'i.png' }, gold: answer, result: null, prediction: null }));
    const results = ls.annotations[0]!.result as unknown[];
    expect(results).toEqual([
      { id: 'b1', from_name: 'label', to_name: 'image', type: 'rectanglelabels', original_width: 200, original_height: 100, image_rotation: 0, value: { x: 10, y: 10, width: 25, height: 25, rotation: 30, rectanglelabels: ['car'] } },
      { id: 'b1', from_name: 'colour', to_name: 'image', type: 'choices', original_width: 200, original_height: 100, image_rotation: 0, value: { x: 10, y: 10, width: 25, height: 25, rotation: 30, choices: ['red'] } },
    ]);
    expect(answerFromResults(boxes.label_config, results)).toEqual({ answer, imageSizes: { image: { width: 200, height: 100 } }, ignored: [] });
  });
});
