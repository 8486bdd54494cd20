import { describe, expect } from 'vitest';
import type { Actor, WorkerActor } from '@fairlabel/testing';
import { test as gatewayTest } from './helpers.js';

// A team coming from Label Studio, end to end through the gateway: a job from their XML, their export
// imported, work done by fairlabel workers, a decision, the export back, and that export imported into
// a job made from the XML fairlabel gives back. Nothing may be lost on the way: every task, prediction,
// gold answer, imported annotation, worker answer and decided result arrives in the second job.


const XML = `<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="objects" toName="image">
    <Label value="Car"/>
    <Label value="Tree"/>
  </RectangleLabels>
  <Choices name="colour" toName="image" perRegion="true">
    <Choice value="red"/>
    <Choice value="blue"/>
  </Choices>
  <Text name="caption" value="$caption"/>
  <Labels name="ner" toName="caption">
    <Label value="PLACE"/>
  </Labels>
  <Choices name="weather" toName="image" choice="multiple" required="true">
    <Choice value="sunny"/>
    <Choice value="rainy "/>
  </Choices>
  <TextArea name="notes" toName="image"/>
  <Rating name="quality" toName="image" maxRating="10"/>
</View>
`;

/** A Label Studio export of this project: one task with two predictions, a ground truth and an annotation; one plain task. */
const lsExport = [
  {
    id: 501,
    data: { image: 'https://img.example/street.jpg', caption: 'A street in Pune' },
    predictions: [
      {
        model_version: 'detector-v3',
        score: 0.81,
        result: [
          { id: 'p1', from_name: 'objects', to_name: 'image', type: 'rectanglelabels', original_width: 800, original_height: 600, image_rotation: 0, value: { x: 10, y: 20, width: 30, height: 15, rotation: 12, rectanglelabels: ['Car'] }, score: 0.9 },
        ],
      },
      { model_version: 'detector-v2', score: 0.4, result: [{ id: 'q1', from_name: 'weather', to_name: 'image', type: 'choices', value: { choices: ['sunny'] } }] },
    ],
    annotations: [
      {
        id: 91,
        completed_by: 7,
        ground_truth: true,
        result: [
          { id: 'g1', from_name: 'objects', to_name: 'image', type: 'rectanglelabels', original_width: 800, original_height: 600, value: { x: 11, y: 21, width: 29, height: 14, rotation: 10, rectanglelabels: ['Car'] } },
          { id: 'g1', from_name: 'colour', to_name: 'image', type: 'choices', original_width: 800, original_height: 600, value: { x: 11, y: 21, width: 29, height: 14, rotation: 10, choices: ['red'] } },
          { id: 'g2', from_name: 'ner', to_name: 'caption', type: 'labels', value: { start: 12, end: 16, text: 'Pune', labels: ['PLACE'] } },
          { id: 'g3', from_name: 'weather', to_name: 'image', type: 'choices', value: { choices: ['rainy '] } },
        ],
        created_at: '2024-03-01T10:00:00.000000Z',
        lead_time: 12.5,
      },
      {
        id: 92,
        completed_by: { id: 8, email: 'someone@example.org' },
        result: [
          { id: 'h1', from_name: 'weather', to_name: 'image', type: 'choices', value: { choices: ['sunny', 'rainy '] } },
          { id: 'h2', from_name: 'notes', to_name: 'image', type: 'textarea', value: { text: ['wet road', 'two lanes'] } },
          { id: 'h3', from_name: 'quality', to_name: 'image', type: 'rating', value: { rating: 8 } },
        ],
        created_at: '2024-03-02T10:00:00.000000Z',
        lead_time: 30,
      },
    ],
  },
  { id: 502, data: { image: 'https://img.example/park.jpg', caption: 'Trees' } },
];

/**
 * An answer as Label Studio's format can carry it: a region list that is empty is no result at all
 * (Label Studio has no empty region), and ids and span text the export adds (generated for regions
 * that had none; the text between a span's offsets) are not part of what a worker said.
 */
function meaning(answer: unknown): unknown {
  const out: Record<string, unknown> = {};
  for (const [control, value] of Object.entries(answer as Record<string, Record<string, unknown>>)) {
    const list = Object.values(value)[0];
    if (Array.isArray(list) && list.length === 0 && ['boxes', 'spans', 'polygons', 'keypoints'].includes(Object.keys(value)[0]!)) continue;
    out[control] = JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'text' && typeof v === 'string') || (k === 'id' && typeof v === 'string' && /^t\d+/.test(v)) ? undefined : v));
  }
  return out;
}

const test = gatewayTest
  /** Two workers of the test's vendor. */
  .extend('workers', async ({ seed, vendor }) => {
    const workers: WorkerActor[] = [];
    for (let i = 0; i < 2; i++) workers.push(await seed.worker(vendor));
    return workers;
  })
  .extend('call', async ({ app }) => (method: 'GET' | 'POST', url: string, who: Actor, payload?: unknown, contentType?: string) =>
    app.inject({ method, url, headers: { ...who.auth, ...(contentType ? { 'content-type': contentType } : {}) }, ...(payload !== undefined ? { payload: payload as string } : {}) }),
  )
  .extend('jobFromXml', async ({ call, client }) => async (xml: string) => {
    const res = await call('POST', '/v1/jobs?name=streets&pay_per_annotation=5&client_price_per_item=20&currency=USD&overlap=2', client, xml, 'application/xml');
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string };
  });

describe('coming from Label Studio', () => {
  test('import -> work -> export -> import into a job from the exported XML loses nothing', async ({ env, client, workers, call, jobFromXml }) => {
    const job = await jobFromXml(XML);
    const imported = await call('POST', `/v1/jobs/${job.id}/tasks`, client, JSON.stringify(lsExport), 'application/json');
    expect(imported.statusCode, imported.body).toBe(200);
    expect(imported.json()).toMatchObject({
      format: 'labelstudio',
      created: 2,
      rejected: 0,
      parts: { predictions: { kept: 2, refused: 0 }, annotations: { kept: 1, converted: 1, refused: 0 } },
    });
    // The first task's ground truth made it a gold item, which workers get only by the claim's gold rule
    // (wa_claim.sql rule 8): at gold_ratio 1 each worker is offered it first.
    await env.db.updateTable('jobs').set({ qa_policy: JSON.stringify({ gold_ratio: 1 }) }).where('id', '=', job.id).execute();
    expect((await call('POST', `/v1/jobs/${job.id}/activate`, client)).statusCode).toBe(200);

    // Two workers answer the first task; the claim shows the v2 config and the first prediction.
    const answers = [
      {
        objects: { boxes: [{ id: 'w1', labels: ['Car'], x: 12, y: 22, width: 28, height: 13, rotation: 11, attributes: { colour: { choices: ['blue'] } } }] },
        ner: { spans: [{ start: 12, end: 16, labels: ['PLACE'] }] },
        weather: { choices: ['rainy '] },
        quality: { rating: 9 },
      },
      { objects: { boxes: [] }, weather: { choices: ['sunny'] }, notes: { text: ['nothing here'] } },
    ];
    for (const [i, w] of workers.entries()) {
      const claimed = await call('POST', '/v1/assignments/next', w);
      expect(claimed.statusCode, claimed.body).toBe(200);
      const a = claimed.json();
      expect(a.label_config.controls.map((c: { name: string }) => c.name)).toEqual(['objects', 'colour', 'ner', 'weather', 'notes', 'quality']);
      expect(a.payload).toEqual(lsExport[0]!.data);
      expect(a.prediction).toMatchObject({ model: 'detector-v3', confidence: expect.closeTo(0.81, 5) });
      // A wrong answer names the control and the field.
      const wrong = await call('POST', `/v1/assignments/${a.id}/submit`, w, { answer: { weather: { choices: ['Rainy'] } }, time_spent_ms: 1000 });
      expect(wrong.statusCode).toBe(422);
      expect(wrong.json().error.details).toEqual([{ path: 'body.answer.weather.choices.0', message: '"Rainy" is not one of the choices' }]);
      const ok = await call('POST', `/v1/assignments/${a.id}/submit`, w, { answer: answers[i], time_spent_ms: 20_000 + i });
      expect(ok.statusCode, ok.body).toBe(200);
    }
    // QA's decision, as its consumer would write it through task-dispatch.
    const [first] = await env.db.selectFrom('tasks').select('id').where('job_id', '=', job.id).orderBy('id').execute();
    await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify(answers[0]), agreement: 0.5, decided_at: new Date('2026-11-29T12:00:00Z') }).where('id', '=', first!.id).execute();

    const exported = await call('GET', `/v1/jobs/${job.id}/results?format=labelstudio&include=annotations`, client);
    expect(exported.statusCode).toBe(200);
    const xml = (await call('GET', `/v1/jobs/${job.id}/label-config?format=labelstudio`, client)).body;
    expect(xml).toBe(XML);
    const tasks = exported.json() as { annotations: { fairlabel_kind: string; result: { from_name: string; to_name: string; original_width?: number }[] }[] }[];
    expect(tasks[0]!.annotations.map((a) => a.fairlabel_kind)).toEqual(['gold', 'result', 'annotation', 'annotation', 'prior']);
    const box = tasks[0]!.annotations[2]!.result.find((r) => r.from_name === 'objects')!;
    expect(box).toMatchObject({ to_name: 'image', original_width: 800, original_height: 600, value: { rotation: 11, rectanglelabels: ['Car'] } });

    const again = await jobFromXml(xml);
    const reimported = await call('POST', `/v1/jobs/${again.id}/tasks`, client, exported.body, 'application/json');
    expect(reimported.statusCode, reimported.body).toBe(200);
    expect(reimported.json()).toMatchObject({ created: 2, rejected: 0, parts: { predictions: { kept: 2, refused: 0 }, annotations: { kept: 4, converted: 1, refused: 0 } } });

    const rows = (jobId: string) => env.db.selectFrom('tasks').selectAll().where('job_id', '=', jobId).orderBy('id').execute();
    const [a, b] = await rows(job.id);
    const [c, d] = await rows(again.id);
    expect([c!.payload, c!.gold, c!.predictions, c!.image_sizes, c!.external_id]).toEqual([a!.payload, a!.gold, a!.predictions, a!.image_sizes, '501']);
    expect([d!.payload, d!.external_id]).toEqual([b!.payload, '502']);
    const prior = c!.prior_annotations as Record<string, unknown>[];
    // The decided result and each worker's answer come back as annotations, with who and how long.
    expect(prior.map((p) => [p.fairlabel_kind, meaning(p.answer)])).toEqual([
      ['result', meaning(answers[0])],
      ['annotation', meaning(answers[0])],
      ['annotation', meaning(answers[1])],
      ['prior', meaning((a!.prior_annotations as { answer: unknown }[])[0]!.answer)],
    ]);
    // Region ids the answers had are kept as they were; a span's text is the text between its offsets.
    expect((prior[1]!.answer as { objects: { boxes: { id: string }[] } }).objects.boxes[0]!.id).toBe('w1');
    expect((prior[1]!.answer as { ner: { spans: { text: string }[] } }).ner.spans[0]!.text).toBe('Pune');
    expect(prior[1]).toMatchObject({ fairlabel_worker_id: workers[0]!.workerId, lead_time: 20, fairlabel_status: 'submitted' });
    expect(prior[3]).toMatchObject({ id: 92, completed_by: { id: 8, email: 'someone@example.org' }, created_at: '2024-03-02T10:00:00.000000Z', lead_time: 30 });
  });
});
