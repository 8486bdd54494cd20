import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { expectError, integrationTest, labelConfigs, type Actor } from '@fairlabel/testing';
import { resultsRoutes } from '../src/results.routes.js';
import { jobAndImportRoutes, ndjson, someRoutes } from './helpers.js';
import { checkLabelStudioExport } from './labelstudio-checker.js';

// Label Studio's own files (fixtures/labelstudio/README.md says where each comes from): every tag this
// platform supports, every shape of task file Label Studio writes or accepts, and the export of each,
// checked by Label Studio's published format rules and re-imported into a job made from the exported XML.

const fixture = (name: string) => readFileSync(new URL(`./fixtures/labelstudio/${name}`, import.meta.url), 'utf8');
const configs = JSON.parse(fixture('configs.json')) as Record<string, string>;

const test = integrationTest({ app: [jobAndImportRoutes, someRoutes('results', resultsRoutes)] })
  .extend('jobFromXml', async ({ app, client }) => async (xml: string, who = client) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs?name=from%20Label%20Studio&pay_per_annotation=5&client_price_per_item=20&currency=USD&overlap=2',
      headers: { ...who.auth, 'content-type': 'application/xml' },
      payload: xml,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; task_type: string; label_config: { objects: unknown[]; controls: Record<string, unknown>[] } };
  })
  .extend('importInto', async ({ app, client }) => (jobId: string, body: string, query = '', contentType = 'application/json') => {
    return app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/tasks${query}`, headers: { ...client.auth, 'content-type': contentType }, payload: body });
  })
  .extend('tasksOf', async ({ env }) => (jobId: string) => env.db.selectFrom('tasks').selectAll().where('job_id', '=', jobId).orderBy('id').execute())
  .extend('exportOf', async ({ app, client }) => async (jobId: string, query = 'format=labelstudio&include=annotations') => {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/results?${query}`, headers: client.auth });
    expect(res.statusCode, res.body).toBe(200);
    return res;
  })
  .extend('xmlOf', async ({ app, client }) => async (jobId: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/label-config?format=labelstudio`, headers: client.auth });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/xml; charset=utf-8');
    return res.body;
  })
  /**
   * Exports a job in Label Studio's format, checks the file by Label Studio's rules, and imports it into
   * a new job made from the job's exported XML: every task, prediction, gold answer and annotation must
   * arrive as it left.
   */
  .extend('exportAndReimport', async ({ jobFromXml, importInto, tasksOf, exportOf, xmlOf }) => async (jobId: string) => {
    const xml = await xmlOf(jobId);
    const exported = (await exportOf(jobId)).body;
    expect(checkLabelStudioExport(xml, JSON.parse(exported))).toEqual([]);
    const again = await jobFromXml(xml);
    const res = await importInto(again.id, exported);
    expect(res.statusCode, res.body).toBe(200);
    const columns = (t: Awaited<ReturnType<typeof tasksOf>>[number]) => ({
      payload: t.payload,
      gold: t.gold,
      prediction: t.prediction,
      predictions: t.predictions,
      image_sizes: t.image_sizes,
      prior: (t.prior_annotations ?? []).map((p) => (p as { answer: unknown }).answer),
    });
    const before = (await tasksOf(jobId)).map(columns);
    const after = (await tasksOf(again.id)).map(columns);
    expect(after).toEqual(before);
    return { xml, exported: JSON.parse(exported) as Record<string, unknown>[], reimport: res.json() };
  });

describe('Label Studio XML configs', () => {
  test('every supported tag becomes a named control on a named object, as Label Studio names them', async ({ jobFromXml }) => {
    const job = await jobFromXml(
      [fixture('per_region_config.xml'), fixture('textarea_config.xml'), fixture('keypoint_config.xml'), fixture('polygon_config.xml'), fixture('ner_config.xml')][0]!,
    );
    expect(job.task_type).toBe('custom');
    expect(job.label_config).toEqual({
      version: 2,
      objects: [{ name: 'image', type: 'image', value: '$image' }],
      controls: [
        { name: 'rect', type: 'rectangle', to_name: 'image', labels: [], multiple: false, can_rotate: true, required: false },
        { name: 'choices', type: 'choices', to_name: 'image', choices: ['Choice 1', 'Choice 2', 'Choice 3'], multiple: false, required: false, per_region: true },
        { name: 'number', type: 'number', to_name: 'image', required: false, per_region: true },
        { name: 'rating', type: 'rating', to_name: 'image', max_rating: 5, required: false, per_region: true },
      ],
    });
    const text = await jobFromXml(fixture('textarea_config.xml'));
    expect(text.label_config.controls.map((c) => [c.name, c.type, c.to_name, c.per_region ?? null])).toEqual([
      ['lbl', 'labels', 'text', null],
      ['local', 'textarea', 'text', true],
      ['global', 'textarea', 'text', false],
    ]);
    const kp = await jobFromXml(fixture('keypoint_config.xml'));
    expect(kp.label_config).toMatchObject({ objects: [{ name: 'img-1', type: 'image', value: '$img' }], controls: [{ name: 'kp-1', type: 'keypoint', to_name: 'img-1', labels: ['Face', 'Nose'] }] });
    const poly = await jobFromXml(fixture('polygon_config.xml'));
    expect(poly.label_config.controls).toMatchObject([{ name: 'label', type: 'polygon', labels: ['Airplane', 'Car'] }]);
    const ner = await jobFromXml(fixture('ner_config.xml'));
    expect(ner).toMatchObject({ task_type: 'text_spans', label_config: { controls: [{ name: 'ner', type: 'labels', to_name: 'text' }] } });
    expect((ner.label_config.controls[0]!.labels as string[]).length).toBe(19);
    const multi = await jobFromXml(configs.humor!);
    expect(multi.label_config.controls[0]).toMatchObject({ name: 'sentiment', choices: ['Humor', 'Not Humor'], multiple: false });
    // Choice values are kept byte-exact, character references included.
    const exact = await jobFromXml(configs['csv_test2.json']!);
    expect(exact.label_config.controls[0]!.choices).toEqual(['Yes " "" \n \t \t а б в \n', 'No']);
  });

  test('GET label-config gives back the XML a job was made from, and writes XML for a JSON config that reads back the same', async ({ app, seed, client, jobFromXml, xmlOf }) => {
    const xml = fixture('per_region_config.xml');
    const job = await jobFromXml(xml);
    expect(await xmlOf(job.id)).toBe(xml);
    const json = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/label-config`, headers: client.auth });
    expect(json.json()).toEqual(job.label_config);
    // Names, types, objects and values survive; limits Label Studio has no attribute for (choices min/max, text lengths,
    // span overlap, minimum box sizes) stay in the fairlabel config only.
    const shape = (c: { objects: unknown[]; controls: Record<string, unknown>[] }) => ({
      objects: c.objects,
      controls: c.controls.map(({ name, type, to_name, choices, labels, multiple, per_region, required, max_items, max_rating, can_rotate }) => ({
        name, type, to_name, choices, labels, multiple, per_region, required, max_items, max_rating, can_rotate,
      })),
    });
    for (const config of Object.values(labelConfigs)) {
      const made = await seed.job(client, { label_config: JSON.stringify(config) });
      const written = await xmlOf(made.id);
      expect(shape((await jobFromXml(written)).label_config), written).toEqual(shape(config as Parameters<typeof shape>[0]));
    }
  });

  test('the XML can also come as a JSON string with label_config_format', async ({ app, client }) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: client.auth,
      payload: { name: 'x', label_config: configs.humor, label_config_format: 'labelstudio', pay_per_annotation: 1, client_price_per_item: 2, currency: 'USD' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().label_config.controls[0].name).toBe('sentiment');
  });

  test('refuses unsupported tags and malformed XML with a 422 naming the tag and its line', async ({ app, client }) => {
    const create = (xml: string) =>
      app.inject({ method: 'POST', url: '/v1/jobs?name=x&pay_per_annotation=1&client_price_per_item=2&currency=USD', headers: { ...client.auth, 'content-type': 'text/xml' }, payload: xml });
    const cases: [string, number, string | undefined, RegExp][] = [
      ['<View>\n  <Image name="image" value="$image"/>\n  <RectangleLabels name="l" toName="image"><Label value="a"/></RectangleLabels>\n  <Relations>\n    <Relation value="near"/>\n  </Relations>\n</View>', 4, 'Relations', /not supported/],
      ['<View>\n  <Image name="image" value="$image"/>\n  <EllipseLabels name="e" toName="image"><Label value="a"/></EllipseLabels>\n</View>', 3, 'EllipseLabels', /not supported/],
      ['<View>\n<Image name="image" value="$image"/>\n<Choices name="c" toName="picture">\n<Choice value="a"/>\n</Choices>\n</View>', 3, 'Choices', /no object is named "picture"/],
      ['<View>\n  <Text name="t" value="$t"/>\n  <Choices name="c" toName="t">\n    <Choice value="a">\n  </Choices>\n</View>', 5, undefined, /not well-formed/],
      ['<View>\n  <Image name="image" valueList="$images"/>\n</View>', 2, 'Image', /valueList/],
      ['<View>\n  <Text name="t" value="$t"/>\n  <Labels name="l" toName="t"/>\n</View>', 3, 'Labels', /at least 1 labels/],
      ['<Root><Text name="t" value="$t"/></Root>', 1, 'Root', /root tag must be <View>/],
    ];
    for (const [xml, line, tag, message] of cases) {
      const res = await create(xml);
      expect(res.statusCode, xml).toBe(422);
      const { error } = res.json();
      expect(error.code).toBe('invalid_label_config');
      expect(error.message, xml).toMatch(message);
      expect(error.details[0], xml).toMatchObject({ line, path: `body.label_config line ${line}`, ...(tag ? { tag } : {}) });
    }
    // Entities are not expanded (no DTD processing): a document that needs them is refused, never a 5xx.
    const entities = await create('<!DOCTYPE View [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="&b;"/></Choices></View>');
    expect(entities.statusCode).toBe(422);
    for (const bad of ['', '   ', 'not xml', '<View>', '<View></Other>']) expect((await create(bad)).statusCode, bad).toBe(422);
    const objectForm = await app.inject({ method: 'POST', url: '/v1/jobs', headers: client.auth, payload: { name: 'x', label_config: { controls: 5 }, pay_per_annotation: 1, client_price_per_item: 2, currency: 'USD' } });
    expect(objectForm.statusCode).toBe(422);
    const missing = await app.inject({ method: 'POST', url: '/v1/jobs?name=x', headers: { ...client.auth, 'content-type': 'application/xml' }, payload: configs.humor });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['querystring.pay_per_annotation', 'querystring.currency']));
  });

  test("the label-config route is the client's own: another client's job is a 404, other roles a 403, a bad format a 400", async ({ app, seed, client, worker, jobFromXml }) => {
    const job = await jobFromXml(configs.humor!);
    const other = await seed.client();
    const get = (who: Actor, query = '?format=labelstudio') => app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/label-config${query}`, headers: who.auth });
    expectError(await get(other), 404, 'not_found');
    expectError(await get(worker), 403, 'forbidden');
    expectError(await get(client, '?format=xml'), 400, 'validation_failed');
  });
});

describe('importing Label Studio files', () => {
  test('a single task object (previous_export.json): the annotation is kept as a prior annotation, with who and when', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs['previous_export.json']!);
    const res = await importInto(job.id, fixture('previous_export.json'));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      format: 'labelstudio',
      received: 1,
      created: 1,
      parts: { predictions: { kept: 0, converted: 0, refused: 0 }, annotations: { kept: 1, converted: 0, refused: 0 } },
      ignored_fields: { created_at: 1, updated_at: 1, project: 1, 'annotations.prediction': 1, 'annotations.result_count': 1, 'annotations.task': 1 },
    });
    const [task] = await tasksOf(job.id);
    expect(task).toMatchObject({ external_id: '1234', payload: { image: 'https://pytest.labelstud.io/mypets.jpg' }, gold: null });
    expect(task!.prior_annotations).toEqual([
      {
        answer: { label: { choices: ['Cat'] } },
        id: 5678,
        completed_by: { id: 42, email: 'annotator_from_past@project.com', first_name: '', last_name: '' },
        created_at: '2021-07-06T06:06:25.927570Z',
        updated_at: '2021-07-06T06:44:08.446371Z',
        lead_time: 346193.271,
        was_cancelled: false,
        ground_truth: false,
      },
    ]);
    const array = await importInto(job.id, fixture('previous_export_unknown_completed_by.json'));
    expect(array.json()).toMatchObject({ received: 1, created: 0, duplicates: 1 });
    await exportAndReimport(job.id);
  });

  test('several predictions (text_with_2_predictions.json) are each kept with their model_version; the first is what workers see', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs.text_class!);
    const res = await importInto(job.id, fixture('text_with_2_predictions.json'));
    expect(res.json()).toMatchObject({ created: 1, parts: { predictions: { kept: 2, converted: 0, refused: 0 } } });
    const [task] = await tasksOf(job.id);
    expect(task!.predictions).toEqual([
      { answer: { text_class: { choices: ['class_A'] } }, model_version: 'model_version_A' },
      { answer: { text_class: { choices: ['class_B'] } }, model_version: 'model_version_B' },
    ]);
    expect(task).toMatchObject({ prediction: { text_class: { choices: ['class_A'] } }, prediction_model: 'model_version_A' });
    const { exported } = await exportAndReimport(job.id);
    expect((exported[0]!.predictions as { model_version: string }[]).map((p) => p.model_version)).toEqual(['model_version_A', 'model_version_B']);
  });

  test('flat tasks and values outside the config (tasks_annotations_predictions.json): refused parts are reported by line, never dropped silently', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs.text_class!);
    const body = fixture('tasks_annotations_predictions.json');
    const rejected = await importInto(job.id, body);
    expect(rejected.statusCode).toBe(422);
    expect(rejected.json().error).toMatchObject({ code: 'import_rejected', message: expect.stringMatching(/2 predictions or annotations do not fit the job/) });
    expect(rejected.json().error.details).toEqual([
      { path: 'line 3', line: 3, message: expect.stringMatching(/^annotations\.0: .*"class_TESTING" is not one of the choices/) },
      { path: 'line 6', line: 6, message: expect.stringMatching(/^predictions\.0: .*"class_PREDICTIONS_TESTING" is not one of the choices/) },
    ]);
    expect(await tasksOf(job.id)).toHaveLength(0);
    const skipped = await importInto(job.id, body, '?on_error=skip');
    expect(skipped.json()).toMatchObject({
      received: 6,
      created: 6,
      rejected: 0,
      parts: { predictions: { kept: 2, converted: 0, refused: 1 }, annotations: { kept: 3, converted: 0, refused: 1 } },
      errors: [{ line: 3 }, { line: 6 }],
    });
    const tasks = await tasksOf(job.id);
    expect(tasks.map((t) => t.payload)).toEqual([
      { text: 'Test example phrase 1', int_field: 1 },
      { int_field: 20, text: 'x2' },
      { int_field: '99', text: 'yoyo' },
      { text: 'zzz' },
      { text: 'vivi' },
      { int_field: 42, text: 'opop' },
    ]);
    expect(tasks[1]!.prior_annotations).toEqual([
      { answer: { text_class: { choices: ['class_A'] } }, lead_time: 3 },
      { answer: { text_class: { choices: ['class_A'] } }, lead_time: 5 },
    ]);
    await exportAndReimport(job.id);
  });

  test('ground truth becomes gold, other annotations prior annotations (humor_dataset_2_annotations.json)', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs.humor!);
    const res = await importInto(job.id, fixture('humor_dataset_2_annotations.json'));
    expect(res.json()).toMatchObject({ created: 2, parts: { annotations: { kept: 1, converted: 1, refused: 0 } }, ignored_fields: { 'result.origin': 2 } });
    const tasks = await tasksOf(job.id);
    expect(tasks.map((t) => [t.gold, t.prior_annotations])).toEqual([
      [{ sentiment: { choices: ['Not Humor'] } }, null],
      [null, [{ answer: { sentiment: { choices: ['Not Humor'] } }, completed_by: { email: 'test_suites_user@heartex.com' }, ground_truth: false }]],
    ]);
    await exportAndReimport(job.id);
  });

  test('boxes stay in percent with their ids; original sizes are kept; a file without sizes stays percent (image_urls_with_bboxes_gt.json, three_tasks_two_gts.json)', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs.bboxes!);
    expect((await importInto(job.id, fixture('image_urls_with_bboxes_gt.json'))).json()).toMatchObject({ created: 2, parts: { annotations: { converted: 2 } } });
    const [first] = await tasksOf(job.id);
    expect(first).toMatchObject({ external_id: '282278', gold: { label: { boxes: [{ id: 'UKz0YvhhKF', labels: ['Cat'], x: 1, y: 1, width: 2, height: 2 }] } }, image_sizes: { image: { width: 320, height: 240 } } });

    const unsized = await jobFromXml(configs.bboxes!);
    const res = await importInto(unsized.id, fixture('three_tasks_two_gts.json'));
    expect(res.json()).toMatchObject({
      created: 3,
      parts: { predictions: { kept: 3, converted: 0, refused: 0 }, annotations: { kept: 1, converted: 2, refused: 0 } },
      ignored_fields: { 'result.source': 3, 'predictions.ground_truth': 3 },
    });
    const tasks = await tasksOf(unsized.id);
    expect(tasks[0]).toMatchObject({ image_sizes: null, prediction_confidence: expect.closeTo(0.7212843313260696, 5), prediction_model: 'model 0' });
    expect(tasks[0]!.predictions).toEqual([
      {
        answer: { label: { boxes: [{ id: 'oid3', labels: ['Car'], score: 0.23053804129850775, x: 80.88, y: 24.03, width: 2.13, height: 2.86 }] } },
        model_version: 'model 0',
        score: 0.7212843313260696,
      },
    ]);
    expect((tasks[2]!.prior_annotations as { answer: { label: { boxes: unknown[] } } }[])[0]!.answer.label.boxes).toHaveLength(3);
    await exportAndReimport(job.id);
    const { exported } = await exportAndReimport(unsized.id);
    // Without a known size there is nothing to write in pixels, and no size is made up.
    expect(JSON.stringify(exported)).not.toContain('original_width');
  });

  test('rotated boxes keep their rotation, and labels are matched byte-exact (data_obb.json: "Butterfly" is not "butterfly")', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(fixture('label_config_obb.xml'));
    const res = await importInto(job.id, fixture('data_obb.json'), '?on_error=skip');
    expect(res.json()).toMatchObject({ created: 2, parts: { annotations: { kept: 1, refused: 1 } }, errors: [{ line: 1, external_id: '10959', message: expect.stringMatching(/"Butterfly" is not one of the label's labels/) }] });
    const tasks = await tasksOf(job.id);
    expect(tasks[1]!.prior_annotations).toMatchObject([
      { answer: { label: { boxes: [{ id: 'Yol2oDwX7b', labels: ['butterfly'], rotation: 348.08878456803338, x: 5.1223690855080099 }] } }, completed_by: 1, lead_time: 30.079 },
    ]);
    expect(tasks[1]!.image_sizes).toEqual({ image: { width: 716, height: 768 } });
    const { exported } = await exportAndReimport(job.id);
    const region = (exported[1]!.annotations as { result: Record<string, unknown>[] }[])[0]!.result[0]!;
    expect(region).toMatchObject({ id: 'Yol2oDwX7b', from_name: 'label', to_name: 'image', type: 'rectanglelabels', original_width: 716, original_height: 768, value: { rotation: 348.08878456803338 } });
  });

  test('polygons (test_export_json_min), keypoints with a prediction score, spans from old completions files', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const poly = await jobFromXml(fixture('polygon_config.xml'));
    expect((await importInto(poly.id, fixture('polygon_data.json'))).json()).toMatchObject({ created: 1, ignored_fields: { 'result.value.closed': 1, 'result.origin': 1 } });
    expect((await tasksOf(poly.id))[0]!.prior_annotations).toMatchObject([{ answer: { label: { polygons: [{ id: 'qd1jIVAq1h', labels: ['Airplane'], points: [[44.44444444444444, 48.25396825396825], [42.53968253968254, 60.317460317460316], [56.19047619047619, 50.79365079365079]] }] } } }]);
    await exportAndReimport(poly.id);

    const kp = await jobFromXml(fixture('keypoint_config.xml'));
    expect((await importInto(kp.id, fixture('keypoint_data.json'))).json()).toMatchObject({ created: 1, parts: { predictions: { kept: 1 } } });
    expect((await tasksOf(kp.id))[0]).toMatchObject({ prediction: { 'kp-1': { keypoints: [{ id: 'kp_1', labels: ['Nose'], x: 3.1, y: 8.2, width: 2 }] } }, prediction_confidence: 0.5, image_sizes: { 'img-1': { width: 1920, height: 1280 } } });
    await exportAndReimport(kp.id);

    const ner = await jobFromXml(fixture('ner_config.xml'));
    const res = await importInto(ner.id, fixture('completions_348.json'));
    expect(res.json()).toMatchObject({ format: 'labelstudio', created: 1, parts: { annotations: { kept: 1 } }, ignored_fields: { 'result.source': 1 } });
    const [task] = await tasksOf(ner.id);
    expect(task!.external_id).toBe('348');
    const spans = (task!.prior_annotations as { answer: { ner: { spans: { start: number; end: number; text: string }[] } } }[])[0]!.answer.ner.spans;
    expect(spans).toHaveLength(8);
    expect(spans[0]).toEqual({ id: '-JfBQoozxW', labels: ['INGREDIENT'], start: 121, end: 155, text: 'Sodium Lauroyl Methyl Isethionate,' });
    await exportAndReimport(ner.id);
  });

  test('per-region and per-tag Choices, Number, Rating and TextArea (Label Studio\'s own test data)', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const regions = await jobFromXml(fixture('per_region_config.xml'));
    expect((await importInto(regions.id, fixture('per_region.json'))).json()).toMatchObject({ created: 3, parts: { annotations: { kept: 3, refused: 0 } } });
    const answers = (await tasksOf(regions.id)).map((t) => (t.prior_annotations as { answer: unknown }[])[0]!.answer);
    expect(answers[0]).toEqual({
      rect: {
        boxes: [
          { id: 'rect_1', labels: [], x: 0, y: 0, width: 50, height: 100, attributes: { choices: { choices: ['Choice 2'] } } },
          { id: 'rect_2', labels: [], x: 50, y: 0, width: 50, height: 100 },
        ],
      },
    });
    expect(answers.map((a) => (a as { rect: { boxes: { attributes?: unknown }[] } }).rect.boxes[0]!.attributes)).toEqual([
      { choices: { choices: ['Choice 2'] } },
      { number: { number: 123 } },
      { rating: { rating: 4 } },
    ]);
    const { exported } = await exportAndReimport(regions.id);
    const results = (exported[2]!.annotations as { result: Record<string, unknown>[] }[])[0]!.result;
    expect(results.map((r) => [r.id, r.from_name, r.type])).toEqual([
      ['rect_1', 'rect', 'rectangle'],
      ['rect_1', 'rating', 'rating'],
      ['rect_2', 'rect', 'rectangle'],
    ]);

    const tags = await jobFromXml(fixture('per_tag_config.xml'));
    expect((await importInto(tags.id, fixture('per_tag.json'))).json()).toMatchObject({ created: 1, parts: { annotations: { kept: 1 } } });
    expect((await tasksOf(tags.id))[0]!.prior_annotations).toEqual([{ answer: { choices: { choices: ['Choice 1'] }, number: { number: 123 }, rating: { rating: 4 } } }]);
    await exportAndReimport(tags.id);

    const text = await jobFromXml(fixture('textarea_config.xml'));
    expect((await importInto(text.id, fixture('textarea_data.json'))).json()).toMatchObject({ created: 1, parts: { annotations: { kept: 1 } }, ignored_fields: {} });
    expect((await tasksOf(text.id))[0]!.prior_annotations).toEqual([
      {
        answer: {
          lbl: { spans: [{ id: 'reg1', labels: ['Word'], start: 5, end: 9, text: 'text', attributes: { local: { text: ['Roasted beans'] } } }] },
          global: { text: ['first line', 'second line'] },
        },
      },
    ]);
    await exportAndReimport(text.id);
  });

  test('a choice with quotes, tabs, newlines and Cyrillic is kept byte-exact (csv_test2.json)', async ({ jobFromXml, importInto, tasksOf, exportAndReimport }) => {
    const job = await jobFromXml(configs['csv_test2.json']!);
    expect((await importInto(job.id, fixture('csv_test2.json'))).json()).toMatchObject({ created: 1, parts: { annotations: { kept: 1, refused: 0 } } });
    expect((await tasksOf(job.id))[0]!.prior_annotations).toMatchObject([{ answer: { uri_selection: { choices: ['Yes " "" \n \t \t а б в \n'] } } }]);
    await exportAndReimport(job.id);
  });

  test('NDJSON of Label Studio tasks, recognised by shape or with ?format=labelstudio', async ({ jobFromXml, importInto, tasksOf }) => {
    const job = await jobFromXml(configs.text_class!);
    const lines = [...JSON.parse(fixture('text_with_2_predictions.json')), { data: { text: 'another' }, id: 'n2' }];
    expect((await importInto(job.id, ndjson(lines), '', 'application/x-ndjson')).json()).toMatchObject({ format: 'labelstudio', received: 2, created: 2 });
    const flat = ndjson([{ text: 'flat one' }, { text: 'flat two' }]);
    expect((await importInto(job.id, flat, '?format=labelstudio', 'application/x-ndjson')).json()).toMatchObject({ format: 'labelstudio', received: 2, created: 2 });
    expect((await tasksOf(job.id)).map((t) => t.payload)).toEqual([{ text: 'Test example phrase' }, { text: 'another' }, { text: 'flat one' }, { text: 'flat two' }]);
  });
});

describe('exports of every tag', () => {
  test('YOLO and CoNLL come from the decided results; COCO holds polygons; a format without a fitting control is a 422', async ({ app, env, client, jobFromXml, importInto, tasksOf, exportOf }) => {
    const boxes = await jobFromXml(fixture('label_config_obb.xml'));
    await importInto(boxes.id, fixture('data_obb.json'), '?on_error=skip');
    const [, task] = await tasksOf(boxes.id);
    await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify((task!.prior_annotations as { answer: unknown }[])[0]!.answer), decided_at: new Date() }).where('id', '=', task!.id).execute();
    const yolo = await exportOf(boxes.id, 'format=yolo');
    expect(yolo.headers['content-type']).toBe('application/x-tar');
    const tar = yolo.rawPayload;
    const entries = new Map<string, string>();
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
      const name = tar.subarray(at, at + 100).toString('utf8').replace(/\0.*$/s, '');
      const size = parseInt(tar.subarray(at + 124, at + 136).toString('utf8'), 8);
      entries.set(name, tar.subarray(at + 512, at + 512 + size).toString('utf8'));
      at += 512 + Math.ceil(size / 512) * 512;
    }
    expect([...entries.keys()]).toEqual(['classes.txt', 'notes.json', 'labels/image3.txt']);
    expect(entries.get('labels/image3.txt')).toMatch(/^0 0\.\d+ 0\.\d+ 0\.\d+ 0\.\d+\n$/);

    const ner = await jobFromXml(fixture('ner_config.xml'));
    await importInto(ner.id, fixture('completions_348.json'));
    const [doc] = await tasksOf(ner.id);
    await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify((doc!.prior_annotations as { answer: unknown }[])[0]!.answer), decided_at: new Date() }).where('id', '=', doc!.id).execute();
    const conll = (await exportOf(ner.id, 'format=conll')).body;
    expect(conll.startsWith('-DOCSTART- -X- O\n\n')).toBe(true);
    expect(conll).toContain('Aqua -X- _ B-INGREDIENT\n(Water) -X- _ I-INGREDIENT\n');
    expect(conll).toContain('Polyquaternium-7 -X- _ B-INGREDIENT\n');

    const poly = await jobFromXml(fixture('polygon_config.xml'));
    await importInto(poly.id, fixture('polygon_data.json'));
    const [shape] = await tasksOf(poly.id);
    await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify((shape!.prior_annotations as { answer: unknown }[])[0]!.answer), decided_at: new Date() }).where('id', '=', shape!.id).execute();
    const coco = (await exportOf(poly.id, 'format=coco')).json();
    expect(coco.images[0]).toMatchObject({ width: 128, height: 128, file_name: '/data/upload/29/example.png' });
    expect(coco.annotations[0]).toMatchObject({ category_id: 1, region_id: 'qd1jIVAq1h', segmentation: [[56.889, 61.765, 54.451, 77.206, 71.924, 65.016]] });

    const refused = await app.inject({ method: 'GET', url: `/v1/jobs/${ner.id}/results?format=yolo`, headers: client.auth });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('format_not_supported');
  });
});
