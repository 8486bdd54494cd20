import { describe, expect } from 'vitest';
import { choicesConfig, expectError, integrationTest, labelConfigs, type Actor, type Seed } from '@fairlabel/testing';
import { sql, type Db, type JobStatus } from '@fairlabel/db';
import { jobAndImportRoutes, ndjson } from './helpers.js';

/** Helpers bound to the test's client: its classification jobs, imports into them, and their tasks. */
const test = integrationTest({ app: [jobAndImportRoutes] })
  .extend('classificationJob', async ({ seed, client }) => (status: JobStatus = 'draft', overlap = 3) =>
    seed.job(client, { status, overlap, label_config: JSON.stringify(choicesConfig(['cat', 'dog', 'other'])) }),
  )
  .extend('post', async ({ app, client }) => (jobId: string, body: string, contentType: string, query = '', headers: Record<string, string> = {}, auth = client.auth) =>
    app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/tasks${query}`, headers: { ...auth, 'content-type': contentType, ...headers }, payload: body }),
  )
  .extend('tasksOf', async ({ env }) => (jobId: string) => env.db.selectFrom('tasks').selectAll().where('job_id', '=', jobId).orderBy('id').execute());

const items = [
  { external_id: 'a', data: { text: 'a cat' }, priority: 5, prediction: { answer: { label: { choices: ['cat'] } }, confidence: 0.9, model_version: 'm-1' }, gold: { label: { choices: ['cat'] } } },
  { external_id: 'b', data: { text: 'a dog' } },
  { external_id: 'c', payload: { text: 'a bird' }, priority: -1 },
];

describe('formats', () => {
  test('NDJSON: every field lands in its column; required_annotations is the overlap; tasks.imported is published', async ({ env, client, classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const res = await post(job.id, ndjson(items), 'application/x-ndjson');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      job_id: job.id,
      format: 'ndjson',
      received: 3,
      created: 3,
      duplicates: 0,
      rejected: 0,
      errors: [],
      errors_truncated: false,
      parts: { predictions: { kept: 1, converted: 0, refused: 0 }, annotations: { kept: 0, converted: 0, refused: 0 } },
      ignored_fields: {},
    });
    const rows = await tasksOf(job.id);
    const cat = { label: { choices: ['cat'] } };
    expect(rows[0]!.predictions).toEqual([{ answer: cat, score: 0.9, model_version: 'm-1' }]);
    expect(rows.map((r) => [r.external_id, r.payload, r.priority, r.prediction, r.prediction_confidence, r.prediction_model, r.gold, r.required_annotations, r.status])).toEqual([
      ['a', { text: 'a cat' }, 5, cat, expect.closeTo(0.9, 5), 'm-1', cat, 3, 'open'],
      ['b', { text: 'a dog' }, 0, null, null, null, null, 3, 'open'],
      ['c', { text: 'a bird' }, -1, null, null, null, null, 3, 'open'],
    ]);
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'tasks.imported').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId, created: 3 });
  });

  test('JSON array', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const res = await post(job.id, JSON.stringify(items), 'application/json; charset=utf-8');
    expect(res.json()).toMatchObject({ format: 'json', created: 3 });
    expect((await tasksOf(job.id)).map((r) => r.external_id)).toEqual(['a', 'b', 'c']);
  });

  test('CSV: reserved columns have their meaning, the rest become data fields', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const csv = [
      'external_id,text,source,priority,gold,prediction,prediction_confidence,prediction_model',
      'r1,"a cat, sleeping",web,2,"{""label"":{""choices"":[""cat""]}}","{""label"":""dog""}",0.4,m-2',
      'r2,"two\nlines",app,,,,,',
    ].join('\n');
    const res = await post(job.id, csv, 'text/csv');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ format: 'csv', received: 2, created: 2 });
    const rows = await tasksOf(job.id);
    expect(rows.map((r) => [r.external_id, r.payload, r.priority, r.gold, r.prediction, r.prediction_model])).toEqual([
      // A job made with the first API's task type still reads that API's answer shapes (`{"label":"dog"}`), stored in the v2 shape.
      ['r1', { text: 'a cat, sleeping', source: 'web' }, 2, { label: { choices: ['cat'] } }, { label: { choices: ['dog'] } }, 'm-2'],
      ['r2', { text: 'two\nlines', source: 'app' }, 0, null, null, null],
    ]);
  });

  test('Label Studio tasks, recognised by shape or by ?format=labelstudio: predictions and ground truth convert', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const ls = [
      {
        id: 101,
        data: { text: 'a cat' },
        predictions: [{ model_version: 'ls-model', score: 0.8, result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }] }],
        annotations: [{ ground_truth: true, result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }] }],
      },
      { id: 102, data: { text: 'a dog' } },
    ];
    const res = await post(job.id, JSON.stringify(ls), 'application/json');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ format: 'labelstudio', created: 2 });
    const rows = await tasksOf(job.id);
    expect(rows.map((r) => [r.external_id, r.payload, r.prediction, r.prediction_confidence, r.prediction_model, r.gold])).toEqual([
      ['101', { text: 'a cat' }, { label: { choices: ['cat'] } }, expect.closeTo(0.8, 5), 'ls-model', { label: { choices: ['cat'] } }],
      ['102', { text: 'a dog' }, null, null, null, null],
    ]);
    // The explicit format takes even items that carry nothing Label-Studio-specific.
    const explicit = await post(job.id, JSON.stringify([{ data: { text: 'plain' } }]), 'application/json', '?format=labelstudio');
    expect(explicit.json()).toMatchObject({ format: 'labelstudio', created: 1 });
  });

  test('Label Studio boxes stay in percent, with rotation and region ids; the original size is kept apart', async ({ seed, client, post, tasksOf }) => {
    const job = await seed.job(client, { task_type: 'bounding_boxes', label_config: JSON.stringify(labelConfigs.bounding_boxes) });
    const ls = [
      {
        id: 'img-1',
        data: { image: 'https://example.com/1.jpg' },
        predictions: [
          { result: [{ id: 'r1', from_name: 'label', to_name: 'image', type: 'rectanglelabels', original_width: 200, original_height: 100, value: { x: 10, y: 20, width: 50, height: 30, rotation: 12.5, rectanglelabels: ['car'] } }] },
        ],
      },
    ];
    const res = await post(job.id, JSON.stringify(ls), 'application/json');
    expect(res.json()).toMatchObject({ created: 1 });
    const [row] = await tasksOf(job.id);
    expect(row!.prediction).toEqual({ label: { boxes: [{ id: 'r1', labels: ['car'], x: 10, y: 20, width: 50, height: 30, rotation: 12.5 }] } });
    expect(row!.image_sizes).toEqual({ image: { width: 200, height: 100 } });
  });
});

describe('idempotency', () => {
  test('known external_ids are counted as duplicates, also when repeated within one body', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    await post(job.id, ndjson(items), 'application/x-ndjson');
    const again = await post(job.id, ndjson([...items, { external_id: 'd', data: { text: 'new' } }, { external_id: 'd', data: { text: 'twice' } }]), 'application/x-ndjson');
    expect(again.json()).toMatchObject({ received: 5, created: 1, duplicates: 4 });
    const rows = await tasksOf(job.id);
    expect(rows.map((r) => r.external_id)).toEqual(['a', 'b', 'c', 'd']);
    expect(rows[3]!.payload).toEqual({ text: 'new' });
  });

  test('duplicates first met in a later batch: earlier batches stay, that batch and every later one skip them', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    // 12,000 items are three COPY batches; the known ids sit in the second, a repeat in the third.
    await post(job.id, ndjson([6000, 6001, 6002].map((i) => ({ external_id: `e${i}`, data: { first: true } }))), 'application/x-ndjson');
    const body = Array.from({ length: 12_000 }, (_, i) => ({ external_id: `e${i}`, data: { i } }));
    body.push({ external_id: 'e11000', data: { i: -1 } });
    const res = await post(job.id, ndjson(body), 'application/x-ndjson');
    expect(res.json()).toMatchObject({ received: 12_001, created: 11_997, duplicates: 4, rejected: 0 });
    const rows = await tasksOf(job.id);
    expect(rows).toHaveLength(12_000);
    const byId = new Map(rows.map((r) => [r.external_id, r.payload]));
    expect(byId.get('e6001')).toEqual({ first: true });
    expect(byId.get('e11000')).toEqual({ i: 11000 });
    expect(byId.get('e0')).toEqual({ i: 0 });
    expect(byId.get('e11999')).toEqual({ i: 11999 });
  });

  test('a row larger than a whole batch buffer is written on its own, between its neighbours, escapes intact', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const big = 'é'.repeat(1_500_000);
    const odd = 'tab\there, back\\slash, new\nline';
    const res = await post(job.id, ndjson([{ external_id: 'before', data: { t: odd } }, { external_id: 'big', data: { t: big } }, { external_id: odd, data: { n: 3 } }]), 'application/x-ndjson');
    expect(res.json()).toMatchObject({ created: 3 });
    const rows = await tasksOf(job.id);
    expect(rows.map((r) => r.external_id)).toEqual(['before', 'big', odd]);
    expect(rows[0]!.payload).toEqual({ t: odd });
    expect((rows[1]!.payload as { t: string }).t).toBe(big);
  });

  test('items without external_id are always created', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const body = ndjson([{ data: { n: 1 } }, { data: { n: 1 } }]);
    await post(job.id, body, 'application/x-ndjson');
    expect((await post(job.id, body, 'application/x-ndjson')).json()).toMatchObject({ created: 2, duplicates: 0 });
    expect(await tasksOf(job.id)).toHaveLength(4);
  });

  test('Idempotency-Key replays the first response; the same key for another request is a 422', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const body = ndjson([{ data: { n: 1 } }]);
    const first = await post(job.id, body, 'application/x-ndjson', '', { 'idempotency-key': 'imp-1' });
    const second = await post(job.id, body, 'application/x-ndjson', '', { 'idempotency-key': 'imp-1' });
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(await tasksOf(job.id)).toHaveLength(1);
    const other = await post(job.id, ndjson([{ data: { n: 1 } }, { data: { n: 2 } }]), 'application/x-ndjson', '', { 'idempotency-key': 'imp-1' });
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('idempotency_key_reused');
  });
});

describe('bad items', () => {
  const mixed = [
    JSON.stringify({ external_id: 'ok-1', data: { t: 1 } }),
    JSON.stringify({ external_id: 'bad-label', data: { t: 2 }, gold: { label: { choices: ['horse'] } } }),
    '',
    JSON.stringify({ external_id: 'ok-2', data: { t: 3 } }),
    '{"external_id": "broken", ',
    JSON.stringify({ external_id: 'no-data' }),
    JSON.stringify({ external_id: 'ok-3', data: { t: 4 }, priority: 1.5 }),
  ].join('\n');

  test('reject (the default) imports nothing and lists every bad item by line', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const res = await post(job.id, mixed, 'application/x-ndjson');
    expect(res.statusCode).toBe(422);
    const { error } = res.json();
    expect(error.code).toBe('import_rejected');
    expect(error.details.map((d: { line: number }) => d.line)).toEqual([2, 5, 6, 7]);
    expect(error.details[0]).toMatchObject({ external_id: 'bad-label', message: expect.stringMatching(/gold is not a valid answer.*label\.choices\.0: "horse" is not one of the choices/) });
    expect(error.details[1].message).toMatch(/not valid JSON/);
    expect(error.details[2].message).toMatch(/needs a `data` object/);
    expect(error.details[3].message).toMatch(/priority/);
    expect(await tasksOf(job.id)).toHaveLength(0);
  });

  test('skip imports the good items and lists the bad by line', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const res = await post(job.id, mixed, 'application/x-ndjson', '?on_error=skip');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: 6, created: 2, rejected: 4, errors_truncated: false });
    expect(res.json().errors.map((e: { line: number }) => e.line)).toEqual([2, 5, 6, 7]);
    expect((await tasksOf(job.id)).map((r) => r.external_id)).toEqual(['ok-1', 'ok-2']);
  });

  test('lists the first 100 errors and counts the rest', async ({ classificationJob, post }) => {
    const job = await classificationJob();
    const body = Array.from({ length: 150 }, (_, i) => JSON.stringify({ external_id: `x${i}`, data: {}, gold: 'nope' })).join('\n');
    const res = await post(job.id, body, 'application/x-ndjson', '?on_error=skip');
    expect(res.json()).toMatchObject({ rejected: 150, errors_truncated: true });
    expect(res.json().errors).toHaveLength(100);
    expect(res.json().errors[99].line).toBe(100);
  });

  test('a truncated NDJSON stream is an error on its last line', async ({ classificationJob, post }) => {
    const job = await classificationJob();
    const whole = ndjson([{ external_id: '1', data: { t: 1 } }, { external_id: '2', data: { t: 2 } }]);
    const cut = whole + '{"external_id":"3","data":{"t":';
    const rejected = await post(job.id, cut, 'application/x-ndjson');
    expect(rejected.statusCode).toBe(422);
    expect(rejected.json().error.details).toEqual([{ path: 'line 3', line: 3, message: expect.stringMatching(/truncated/) }]);
    const skipped = await post(job.id, cut, 'application/x-ndjson', '?on_error=skip');
    expect(skipped.json()).toMatchObject({ created: 2, errors: [{ line: 3 }] });
    // A last line without a newline is fine when it is whole.
    const job2 = await classificationJob();
    expect((await post(job2.id, whole.trimEnd(), 'application/x-ndjson')).json()).toMatchObject({ created: 2 });
  });

  test('a CSV row with a missing column is an error naming the column; a header without data columns is a 400', async ({ classificationJob, post }) => {
    const job = await classificationJob();
    const csv = 'external_id,text,source\nr1,hello,web\nr2,hi\nr3,hey,app\n';
    const res = await post(job.id, csv, 'text/csv');
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toEqual([{ path: 'line 3', line: 3, message: 'has 2 fields, the header has 3: missing source' }]);
    const skip = await post(job.id, csv, 'text/csv', '?on_error=skip');
    expect(skip.json()).toMatchObject({ created: 2, errors: [{ line: 3 }] });
    const noData = await post(job.id, 'external_id,priority\nr1,1\n', 'text/csv');
    expect(noData.statusCode).toBe(400);
    expect(noData.json().error.code).toBe('invalid_csv_header');
    const dup = await post(job.id, 'text,text\na,b\n', 'text/csv');
    expect(dup.json().error.code).toBe('invalid_csv_header');
  });

  test('a malformed JSON array is a 400 naming its line, and imports nothing; one JSON object is one item', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const cut = await post(job.id, '[{"data":{"t":1}},\n{"data":', 'application/json');
    expect(cut.statusCode).toBe(400);
    expect(cut.json().error).toMatchObject({ code: 'malformed_body', message: expect.stringMatching(/cut short \(line 2, after 1 items\)/), details: [{ line: 2 }] });
    const broken = await post(job.id, '[\n{"data":{"t":1}},\n{"data" {"t":2}},\n{"data":{"t":3}}\n]', 'application/json');
    expect(broken.json().error).toMatchObject({ code: 'malformed_body', details: [{ line: 3 }] });
    expect(await tasksOf(job.id)).toHaveLength(0);
    const object = await post(job.id, '{"data":{"t":1}}', 'application/json');
    expect(object.json()).toMatchObject({ format: 'json', received: 1, created: 1 });
  });

  test('a body of the wrong shape for its Content-Type is a 400 with the line, never a 500', async ({ classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    // body, content type, query, the error code, the line it names (null: the refusal is not about a line)
    const cases: [string, string, string, string, number | null][] = [
      ['external_id,text\nr1,hello\n', 'application/json', '', 'malformed_body', 1],
      ['{"data":{"t":1}}\n{"data":{"t":2}}\n', 'application/json', '', 'malformed_body', 2],
      ['\n\n{"data":{"t":1}, "x": }', 'application/json', '', 'malformed_body', 3],
      ['   ', 'application/json', '', 'malformed_body', 1],
      ['[1, 2', 'application/json', '?format=labelstudio', 'malformed_body', 1],
      ['external_id,text\nr1,hello\n', 'text/csv', '?format=labelstudio', 'unsupported_format', null],
    ];
    for (const [body, type, query, code, line] of cases) {
      const error = expectError(await post(job.id, body, type, query), 400, code);
      expect(error.details.map((d) => d.line ?? null), body).toEqual([line]);
    }
    expect(await tasksOf(job.id)).toHaveLength(0);
  });

  test('no shape of body is a 5xx: each is imported or refused with a 4xx in the one error shape', async ({ classificationJob, post }) => {
    const job = await classificationJob();
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    // body, content type, query, and what becomes of it: how many tasks it created, or the refusal
    const bodies: [string, string, string, { created: number } | { status: number; code: string }][] = [
      ['null', 'application/json', '', { status: 400, code: 'malformed_body' }],
      ['[null, 1, "x", true, []]', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['[null, 1, "x", true, []]', 'application/json', '?format=labelstudio', { status: 422, code: 'import_rejected' }],
      ['{"data": 5}', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": 5}', 'application/json', '?format=labelstudio', { status: 422, code: 'import_rejected' }],
      ['{"id": {}, "data": {}}', 'application/json', '?format=labelstudio', { created: 1 }],
      ['{"data": {}, "annotations": "x", "predictions": {}}', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": {}, "annotations": [null, 1, {"result": null}, {"result": [null]}, {"result": [{"from_name": "label", "type": "choices", "value": null}]}]}', 'application/json', '?on_error=skip', { created: 1 }],
      ['{"data": {}, "predictions": [{"result": [{"from_name": "label", "type": "choices", "value": {"choices": "cat"}}]}]}', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": {}, "predictions": [{"result": [{"from_name": "label", "type": "rectanglelabels", "value": {"x": 1e400}}]}]}', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": {"t": "\\ud800"}}', 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": {"t": "\\u0000"}}', 'application/json', '?format=labelstudio', { status: 422, code: 'import_rejected' }],
      [deep, 'application/json', '', { status: 422, code: 'import_rejected' }],
      ['{"data": {}}\n[1]\n"x"\n', 'application/x-ndjson', '?format=labelstudio', { status: 422, code: 'import_rejected' }],
      ['\uFEFF[{"data": {"t": 1}}]', 'application/json', '', { created: 1 }],
      ['text\n"unterminated', 'text/csv', '', { status: 400, code: 'malformed_body' }],
      ['[{"data":{}}]', 'text/csv', '', { status: 400, code: 'malformed_body' }],
      ['<View/>', 'application/json', '', { status: 400, code: 'malformed_body' }],
      ['', 'application/x-ndjson', '', { created: 0 }],
      ['', 'application/json', '', { status: 400, code: 'malformed_body' }],
    ];
    for (const [body, type, query, outcome] of bodies.filter(([, , , o]) => 'code' in o)) {
      const { status, code } = outcome as { status: number; code: string };
      expectError(await post(job.id, body, type, query), status, code);
    }
    for (const [body, type, query, outcome] of bodies.filter(([, , , o]) => 'created' in o)) {
      const res = await post(job.id, body, type, query);
      expect(res.statusCode, `${type} ${query} ${body.slice(0, 80)}: ${res.body.slice(0, 300)}`).toBe(200);
      expect(res.json()).toMatchObject(outcome);
    }
  });

  test('unsupported content types are a 415', async ({ classificationJob, post }) => {
    const job = await classificationJob();
    expectError(await post(job.id, 'hello', 'text/plain'), 415, 'unsupported_media_type');
  });
});

describe('who and when', () => {
  test("another client's job is a 404, a worker or vendor key a 403", async ({ seed, vendor, worker, classificationJob, post, tasksOf }) => {
    const job = await classificationJob();
    const other = await seed.client();
    expectError(await post(job.id, ndjson(items), 'application/x-ndjson', '', {}, other.auth), 404, 'not_found');
    expectError(await post(job.id, ndjson(items), 'application/x-ndjson', '', {}, vendor.auth), 403, 'forbidden');
    expectError(await post(job.id, ndjson(items), 'application/x-ndjson', '', {}, worker.auth), 403, 'forbidden');
    expect(await tasksOf(job.id)).toHaveLength(0);
  });

  test('active and paused jobs take tasks; completed and cancelled jobs are a 409', async ({ classificationJob, post }) => {
    for (const status of ['active', 'paused'] as const) {
      const job = await classificationJob(status);
      expect((await post(job.id, ndjson(items), 'application/x-ndjson')).json()).toMatchObject({ created: 3 });
    }
    for (const status of ['completed', 'cancelled'] as const) {
      const job = await classificationJob(status);
      const res = await post(job.id, ndjson(items), 'application/x-ndjson');
      expect(expectError(res, 409, 'job_closed').details).toEqual([expect.objectContaining({ current_status: status })]);
    }
  });

  test('streams a body far above the JSON body limit', async ({ env, classificationJob, post }) => {
    const job = await classificationJob();
    const n = 20_000;
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ external_id: `e${i}`, data: { text: 'x'.repeat(100), i } })).join('\n');
    expect(body.length).toBeGreaterThan(env.config.BODY_LIMIT_BYTES);
    const res = await post(job.id, body, 'application/x-ndjson');
    expect(res.json()).toMatchObject({ created: n });
  });
});

describe('slots under prediction_mode verify', () => {
  const cat = { label: { choices: ['cat'] } };
  const predicted = (id: string, confidence: number, extra: Record<string, unknown> = {}) => ({ external_id: id, data: { text: id }, prediction: { answer: cat, confidence }, ...extra });
  const verifyJob = (seed: Seed, client: Actor, qaPolicy: Record<string, unknown>, status: JobStatus = 'draft', overlap = 3) =>
    seed.job(client, { status, overlap, label_config: JSON.stringify(choicesConfig(['cat', 'dog', 'other'])), qa_policy: JSON.stringify(qaPolicy) });
  const slotsOf = async (env: { db: Db }, jobId: string) =>
    (
      await sql<{ external_id: string; required: number; open: number }>`
        SELECT t.external_id, t.required_annotations AS required, s.open_slots AS open FROM tasks t JOIN task_slots s ON s.task_id = t.id
        WHERE t.job_id = ${jobId} ORDER BY t.id`.execute(env.db)
    ).rows.map((r) => [r.external_id, r.required, r.open]);

  test('a task whose prediction reaches the threshold opens one slot; below it, without a prediction, and gold keep the overlap', async ({ env, seed, client, post }) => {
    const job = await verifyJob(seed, client, { prediction_mode: 'verify', prediction_threshold: 0.8 });
    const body = ndjson([
      predicted('at', 0.8),
      predicted('above', 0.95),
      predicted('below', 0.79),
      { external_id: 'none', data: { text: 'none' } },
      predicted('gold', 0.99, { gold: cat }),
      // Stored as a real this is 0.8, which QA reads back and counts as qualifying: so must the import.
      predicted('hair', 0.79999999),
    ]);
    expect((await post(job.id, body, 'application/x-ndjson')).json()).toMatchObject({ created: 6 });
    // worker-assignment's slot trigger follows the task's count: one slot for a verifier, none for gold.
    expect(await slotsOf(env, job.id)).toEqual([['at', 1, 1], ['above', 1, 1], ['below', 3, 3], ['none', 3, 3], ['gold', 3, 0], ['hair', 1, 1]]);

    // Label Studio predictions (their score is the confidence), and the duplicate-skipping path.
    const ls = [
      { id: 201, data: { text: 'ls' }, predictions: [{ score: 0.9, result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }] }] },
      { id: 202, data: { text: 'ls low' }, predictions: [{ score: 0.5, result: [{ from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['cat'] } }] }] },
    ];
    expect((await post(job.id, JSON.stringify(ls), 'application/json')).json()).toMatchObject({ format: 'labelstudio', created: 2 });
    expect((await post(job.id, ndjson([predicted('above', 0.95), predicted('again', 0.9)]), 'application/x-ndjson')).json()).toMatchObject({ created: 1, duplicates: 1 });
    expect((await slotsOf(env, job.id)).slice(6)).toEqual([['201', 1, 1], ['202', 3, 3], ['again', 1, 1]]);
  });

  test('the legacy auto_accept_confidence means verify; auto and assist keep the overlap', async ({ env, seed, client, post }) => {
    const legacy = await verifyJob(seed, client, { auto_accept_confidence: 0.7 });
    const auto = await verifyJob(seed, client, { prediction_mode: 'auto', prediction_threshold: 0.7 });
    const assist = await verifyJob(seed, client, { prediction_mode: 'assist', prediction_threshold: 0.7 });
    for (const j of [legacy, auto, assist]) expect((await post(j.id, ndjson([predicted('p', 0.75)]), 'application/x-ndjson')).statusCode).toBe(200);
    expect((await slotsOf(env, legacy.id)).map((r) => r[1])).toEqual([1]);
    expect((await slotsOf(env, auto.id)).map((r) => r[1])).toEqual([3]);
    expect((await slotsOf(env, assist.id)).map((r) => r[1])).toEqual([3]);
  });

  test('a draft\'s tasks follow a change of policy or overlap; a paused job\'s only rise', async ({ env, app, seed, client, post }) => {
    const patch = (jobId: string, payload: Record<string, unknown>) => app.inject({ method: 'PATCH', url: `/v1/jobs/${jobId}`, headers: client.auth, payload });
    const body = ndjson([predicted('high', 0.9), predicted('mid', 0.75), { external_id: 'none', data: { text: 'none' } }]);

    const draft = await verifyJob(seed, client, { prediction_mode: 'assist' });
    await post(draft.id, body, 'application/x-ndjson');
    expect((await slotsOf(env, draft.id)).map((r) => r[1])).toEqual([3, 3, 3]);
    expect((await patch(draft.id, { qa_policy: { gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0, prediction_mode: 'verify', prediction_threshold: 0.7 } })).statusCode).toBe(200);
    expect(await slotsOf(env, draft.id)).toEqual([['high', 1, 1], ['mid', 1, 1], ['none', 3, 3]]);
    expect((await patch(draft.id, { overlap: 2, qa_policy: { gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0, prediction_mode: 'verify', prediction_threshold: 0.8 } })).statusCode).toBe(200);
    expect(await slotsOf(env, draft.id)).toEqual([['high', 1, 1], ['mid', 2, 2], ['none', 2, 2]]);

    const paused = await verifyJob(seed, client, { prediction_mode: 'verify', prediction_threshold: 0.8 }, 'paused');
    await post(paused.id, body, 'application/x-ndjson');
    expect((await slotsOf(env, paused.id)).map((r) => r[1])).toEqual([1, 3, 3]);
    // Now `mid` qualifies too, but a paused job has work under the old count: nothing is lowered.
    expect((await patch(paused.id, { qa_policy: { gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0, prediction_mode: 'verify', prediction_threshold: 0.7 } })).statusCode).toBe(200);
    expect((await slotsOf(env, paused.id)).map((r) => r[1])).toEqual([1, 3, 3]);
    // Verify turned off: the one-slot task gets the overlap back, its new slots open.
    expect((await patch(paused.id, { qa_policy: { gold_ratio: 0, review_sample_rate: 0, consensus_method: 'majority', accuracy_floor: 0, prediction_mode: 'assist' } })).statusCode).toBe(200);
    expect(await slotsOf(env, paused.id)).toEqual([['high', 3, 3], ['mid', 3, 3], ['none', 3, 3]]);
  });
});
