import { describe, expect, it } from 'vitest';
import { answerFromLabelStudio } from './label-studio.js';
import {
  cocoAnnotations,
  cocoCategories,
  cocoImage,
  csvCell,
  csvHeader,
  csvRow,
  jsonlLine,
  labelStudioTask,
  type ExportJob,
  type ExportTask,
} from './export-formats.js';

const classification: ExportJob = { id: 'job-1', name: 'pets', task_type: 'classification', label_config: { labels: ['cat', 'dog'] } };
const boxes: ExportJob = { id: 'job-2', name: 'streets', task_type: 'bounding_boxes', label_config: { labels: ['car', 'person'], image_width: 200, image_height: 100 } };

const decidedAt = new Date('2026-11-27T10:00:00.000Z');
const submittedAt = new Date('2026-11-27T09:00:00.000Z');

function task(overrides: Partial<ExportTask> = {}): ExportTask {
  return {
    id: 7,
    external_id: 'a-7',
    status: 'decided',
    payload: { text: 'a cat, "sitting"\non a mat' },
    result: { label: 'cat' },
    agreement: 0.5,
    decided_at: decidedAt,
    gold: { label: 'cat' },
    prediction: { label: 'dog' },
    prediction_confidence: 0.25,
    prediction_model: 'resnet-1',
    ...overrides,
  };
}

const annotations = [
  { assignment_id: 1, worker_id: 'w1', vendor_id: 'v1', status: 'accepted', answer: { label: 'cat' }, time_spent_ms: 1500, submitted_at: submittedAt },
  { assignment_id: 2, worker_id: 'w2', vendor_id: 'v1', status: 'rejected', answer: { label: 'dog' }, time_spent_ms: 900, submitted_at: submittedAt },
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
      result: { label: 'cat' },
      agreement: 0.5,
      decided_at: '2026-11-27T10:00:00.000Z',
      gold: { label: 'cat' },
      prediction: { value: { label: 'dog' }, confidence: 0.25, model: 'resnet-1' },
      annotations: [
        { assignment_id: 1, worker_id: 'w1', vendor_id: 'v1', status: 'accepted', answer: { label: 'cat' }, time_spent_ms: 1500, submitted_at: '2026-11-27T09:00:00.000Z' },
        { assignment_id: 2, worker_id: 'w2', vendor_id: 'v1', status: 'rejected', answer: { label: 'dog' }, time_spent_ms: 900, submitted_at: '2026-11-27T09:00:00.000Z' },
      ],
    });
  });

  it('leaves annotations out unless asked for, and shows open tasks with null results', () => {
    const parsed = JSON.parse(jsonlLine(task({ status: 'open', result: null, agreement: null, decided_at: null, prediction: null, gold: null })));
    expect(parsed).not.toHaveProperty('annotations');
    expect(parsed).toMatchObject({ status: 'open', result: null, agreement: null, decided_at: null, prediction: null, gold: null });
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
    expect(csvHeader(false)).toBe('task_id,external_id,status,result,agreement,decided_at,payload,gold,prediction,prediction_confidence,prediction_model\r\n');
    expect(csvHeader(true).trimEnd().split(',').at(-1)).toBe('annotations');
    const row = csvRow(task());
    expect(row).toBe(
      '7,a-7,decided,"{""label"":""cat""}",0.5,2026-11-27T10:00:00.000Z,' +
        '"{""text"":""a cat, \\""sitting\\""\\non a mat""}",' +
        '"{""label"":""cat""}","{""label"":""dog""}",0.25,resnet-1\r\n',
    );
  });
});

describe('coco', () => {
  it('numbers categories from the label config and writes boxes as [x, y, width, height]', () => {
    expect(cocoCategories(boxes)).toEqual([
      { id: 1, name: 'car', supercategory: '' },
      { id: 2, name: 'person', supercategory: '' },
    ]);
    const t = task({ payload: { image: 'https://img/1.jpg' }, result: { boxes: [{ label: 'person', x: 10, y: 20, width: 30, height: 40 }] } });
    expect(cocoImage(boxes, t)).toEqual({ id: 7, file_name: 'https://img/1.jpg', width: 200, height: 100, external_id: 'a-7', status: 'decided', agreement: 0.5 });
    let n = 0;
    expect(cocoAnnotations(boxes, t.id, t.result, () => ++n)).toEqual([{ id: 1, image_id: 7, category_id: 2, bbox: [10, 20, 30, 40], area: 1200, iscrowd: 0 }]);
  });

  it('takes the image size from the payload when the job has none', () => {
    const job = { ...boxes, label_config: { labels: ['car'] } };
    expect(cocoImage(job, task({ payload: { image: 'x.png', image_width: 640, image_height: 480 } }))).toMatchObject({ width: 640, height: 480 });
  });
});

describe('label studio', () => {
  it('puts gold as the ground-truth annotation, then the result and each answer, and the prediction with score and model', () => {
    const ls = labelStudioTask(classification, task({ annotations }));
    expect(ls).toMatchObject({ id: 7, external_id: 'a-7', data: { text: 'a cat, "sitting"\non a mat' }, meta: { status: 'decided', agreement: 0.5 } });
    expect(ls.annotations.map((a) => [a.fairlabel_kind, a.ground_truth])).toEqual([
      ['gold', true],
      ['result', false],
      ['annotation', false],
      ['annotation', false],
    ]);
    expect(ls.annotations[0]!.result).toEqual([{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }]);
    expect(ls.annotations[3]).toMatchObject({ fairlabel_worker_id: 'w2', fairlabel_status: 'rejected', lead_time: 0.9, result: [{ value: { choices: ['dog'] } }] });
    expect(ls.predictions).toEqual([{ result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['dog'] } }], score: 0.25, model_version: 'resnet-1' }]);
  });

  it('converts boxes to percent of the image and back to the same pixels', () => {
    const answer = { boxes: [{ label: 'car', x: 20, y: 10, width: 50, height: 25 }] };
    const ls = labelStudioTask(boxes, task({ payload: { image: 'i.png' }, gold: answer, result: null, prediction: null }));
    const region = (ls.annotations[0]!.result as { value: Record<string, unknown>; original_width: number }[])[0]!;
    expect(region).toMatchObject({ type: 'rectanglelabels', original_width: 200, original_height: 100, value: { x: 10, y: 10, width: 25, height: 25, rectanglelabels: ['car'] } });
    expect(answerFromLabelStudio('bounding_boxes', ls.annotations[0]!.result, ls.data)).toEqual({ answer });
  });
});
