import { describe, expect } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { expectError, integrationTest, labelConfigs, type Actor, type WorkerActor } from '@fairlabel/testing';
import { resultsRoutes } from '../src/results.routes.js';
import { importRoutes } from '../src/import.routes.js';
import { someRoutes } from './helpers.js';

const CAT = { label: { choices: ['cat'] } };
const DOG = { label: { choices: ['dog'] } };
/** A box given in pixels of a 640x480 image, as the v2 answer holds it: percent. */
const box = (label: string, x: number, y: number, width: number, height: number) => ({ labels: [label], x: (x * 100) / 640, y: (y * 100) / 480, width: (width * 100) / 640, height: (height * 100) / 480 });

const decidedAt = new Date('2026-11-20T10:00:00.000Z');
const submittedAt = new Date('2026-11-20T09:30:00.000Z');

interface Answered {
  worker: number;
  answer: unknown;
  status: 'accepted' | 'rejected' | 'submitted';
  ms: number;
}

const test = integrationTest({ app: [someRoutes('results', resultsRoutes, importRoutes)] })
  /** Three annotators of the test's vendor. */
  .extend('workers', async ({ seed, vendor }) => {
    const workers: WorkerActor[] = [];
    for (let i = 0; i < 3; i++) workers.push(await seed.worker(vendor));
    return workers;
  })
  /** Seeds what QA and workers would have written: decided tasks with results and their assignments. */
  .extend('seedTask', async ({ env, workers }) => async (jobId: string, taskId: number, opts: { result?: unknown; agreement?: number; gold?: unknown; prediction?: { answer: unknown; confidence: number; model: string }; answers?: Answered[] }) => {
    await env.db
      .updateTable('tasks')
      .set({
        ...(opts.result !== undefined ? { status: 'decided', result: JSON.stringify(opts.result), agreement: opts.agreement ?? null, decided_at: decidedAt } : {}),
        ...(opts.gold !== undefined ? { gold: JSON.stringify(opts.gold) } : {}),
        ...(opts.prediction ? { prediction: JSON.stringify(opts.prediction.answer), prediction_confidence: opts.prediction.confidence, prediction_model: opts.prediction.model } : {}),
      })
      .where('id', '=', taskId)
      .execute();
    const ids: number[] = [];
    for (const a of opts.answers ?? []) {
      const w = workers[a.worker]!;
      const row = await env.db
        .insertInto('assignments')
        .values({
          task_id: taskId,
          job_id: jobId,
          worker_id: w.workerId,
          vendor_id: w.vendorId,
          status: a.status,
          lease_expires_at: new Date(submittedAt.getTime() + 600_000),
          submitted_at: submittedAt,
          answer: JSON.stringify(a.answer),
          time_spent_ms: a.ms,
          decided_at: a.status === 'submitted' ? null : decidedAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(row.id);
    }
    return ids;
  })
  /** A classification job: task 0 decided with gold, prediction and three annotators, task 1 decided, task 2 open. */
  .extend('classificationJob', async ({ env, seed, client, workers, seedTask }) => async (owner: Actor = client) => {
    const job = await seed.job(owner, { overlap: 3, status: 'completed', completed_at: decidedAt });
    const tasks = await seed.tasks(job.id, 3, { payload: (i) => ({ text: `pet, "number" ${i}`, source: { page: i } }) });
    // A leased (unanswered) assignment must not appear among the annotations.
    const w = workers[2]!;
    const assignmentIds = await seedTask(job.id, tasks[0]!.id, {
      result: CAT,
      agreement: 2 / 3,
      gold: CAT,
      prediction: { answer: DOG, confidence: 0.4, model: 'pets-v2' },
      answers: [
        { worker: 0, answer: CAT, status: 'accepted', ms: 4000 },
        { worker: 1, answer: DOG, status: 'rejected', ms: 2500 },
        { worker: 2, answer: CAT, status: 'accepted', ms: 3000 },
      ],
    });
    await seedTask(job.id, tasks[1]!.id, {
      result: DOG,
      agreement: 1,
      prediction: { answer: DOG, confidence: 0.9, model: 'pets-v2' },
      answers: [{ worker: 0, answer: DOG, status: 'accepted', ms: 1000 }],
    });
    await env.db
      .insertInto('assignments')
      .values({ task_id: tasks[2]!.id, job_id: job.id, worker_id: w.workerId, vendor_id: w.vendorId, status: 'leased', lease_expires_at: new Date(Date.now() + 600_000) })
      .execute();
    return { job, tasks, assignmentIds };
  })
  .extend('exportOf', async ({ app, client }) => (jobId: string, query: string, actor: Actor = client) => {
    return app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/results?${query}`, headers: actor.auth });
  });


describe('results export', () => {
  test('jsonl: every task with result, agreement, gold, prediction and, when asked, every answer', async ({ workers, classificationJob, exportOf }) => {
    const { job, tasks, assignmentIds } = await classificationJob();
    const res = await exportOf(job.id, 'format=jsonl&include=annotations');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="job-${job.id}-results.jsonl"`);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({
      task_id: tasks[0]!.id,
      external_id: 'item-0',
      status: 'decided',
      payload: { text: 'pet, "number" 0', source: { page: 0 } },
      result: CAT,
      agreement: expect.closeTo(2 / 3, 5),
      decided_at: decidedAt.toISOString(),
      gold: CAT,
      prediction: { value: DOG, confidence: expect.closeTo(0.4, 5), model: 'pets-v2' },
      predictions: [{ answer: DOG, score: expect.closeTo(0.4, 5), model_version: 'pets-v2' }],
      prior_annotations: [],
      annotations: [
        { assignment_id: assignmentIds[0], worker_id: workers[0]!.workerId, vendor_id: workers[0]!.vendorId, status: 'accepted', answer: CAT, time_spent_ms: 4000, submitted_at: submittedAt.toISOString() },
        { assignment_id: assignmentIds[1], worker_id: workers[1]!.workerId, vendor_id: workers[1]!.vendorId, status: 'rejected', answer: DOG, time_spent_ms: 2500, submitted_at: submittedAt.toISOString() },
        { assignment_id: assignmentIds[2], worker_id: workers[2]!.workerId, vendor_id: workers[2]!.vendorId, status: 'accepted', answer: CAT, time_spent_ms: 3000, submitted_at: submittedAt.toISOString() },
      ],
    });
    expect(lines[1]).toMatchObject({ task_id: tasks[1]!.id, result: DOG, agreement: 1, gold: null, prediction: { value: DOG, model: 'pets-v2' } });
    expect(lines[1].annotations).toHaveLength(1);
    expect(lines[2]).toMatchObject({ task_id: tasks[2]!.id, status: 'open', result: null, agreement: null, decided_at: null, prediction: null, annotations: [] });

    const plain = await exportOf(job.id, 'format=jsonl');
    expect(plain.body.trimEnd().split('\n').map((l) => JSON.parse(l)).every((l: object) => !('annotations' in l))).toBe(true);
  });

  test('csv: a header and one row per task, structured cells as JSON', async ({ workers, classificationJob, exportOf }) => {
    const { job, tasks } = await classificationJob();
    const res = await exportOf(job.id, 'format=csv&include=annotations');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const rows = parseCsv(res.body, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0]!)).toEqual([
      'task_id',
      'external_id',
      'status',
      'result',
      'agreement',
      'decided_at',
      'payload',
      'gold',
      'prediction',
      'prediction_confidence',
      'prediction_model',
      'predictions',
      'prior_annotations',
      'annotations',
    ]);
    const first = rows[0]!;
    expect(first.task_id).toBe(String(tasks[0]!.id));
    expect(first.external_id).toBe('item-0');
    expect(first.status).toBe('decided');
    expect(JSON.parse(first.result!)).toEqual(CAT);
    expect(Number(first.agreement)).toBeCloseTo(2 / 3, 5);
    expect(first.decided_at).toBe(decidedAt.toISOString());
    expect(JSON.parse(first.payload!)).toEqual({ text: 'pet, "number" 0', source: { page: 0 } });
    expect(JSON.parse(first.gold!)).toEqual(CAT);
    expect(JSON.parse(first.prediction!)).toEqual(DOG);
    expect(Number(first.prediction_confidence)).toBeCloseTo(0.4, 5);
    expect(first.prediction_model).toBe('pets-v2');
    const annotators = JSON.parse(first.annotations!) as { worker_id: string; answer: unknown; status: string; time_spent_ms: number }[];
    expect(annotators.map((a) => [a.worker_id, a.answer, a.status, a.time_spent_ms])).toEqual([
      [workers[0]!.workerId, CAT, 'accepted', 4000],
      [workers[1]!.workerId, DOG, 'rejected', 2500],
      [workers[2]!.workerId, CAT, 'accepted', 3000],
    ]);
    expect(rows[2]).toMatchObject({ status: 'open', result: '', agreement: '', gold: '', prediction: '', annotations: '[]' });
  });

  test('coco: images with sizes, decided boxes in pixels under annotations, gold and annotators in their documented fields; 422 without a box control', async ({ seed, client, workers, seedTask, classificationJob, exportOf }) => {
    const job = await seed.job(client, { task_type: 'bounding_boxes', label_config: JSON.stringify(labelConfigs.bounding_boxes) });
    const tasks = await seed.tasks(job.id, 2, { payload: (i) => ({ image: `https://img.example/${i}.jpg`, image_width: 640, image_height: 480 }) });
    const answer = (...boxes: ReturnType<typeof box>[]) => ({ label: { boxes } });
    await seedTask(job.id, tasks[0]!.id, {
      result: answer(box('car', 10, 20, 100, 50), box('person', 300, 40, 30, 90)),
      agreement: 0.8,
      gold: answer(box('car', 10, 20, 100, 50)),
      prediction: { answer: answer(box('car', 12, 18, 98, 52)), confidence: 0.7, model: 'yolo' },
      answers: [
        { worker: 0, answer: answer(box('car', 11, 21, 99, 49)), status: 'accepted', ms: 9000 },
        { worker: 1, answer: answer(), status: 'rejected', ms: 1000 },
      ],
    });
    const res = await exportOf(job.id, 'format=coco&include=annotations');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const coco = res.json();
    expect(coco.info).toMatchObject({ job_id: job.id });
    expect(coco.categories).toEqual([
      { id: 1, name: 'car', supercategory: '' },
      { id: 2, name: 'person', supercategory: '' },
    ]);
    expect(coco.images).toEqual([
      { id: tasks[0]!.id, file_name: 'https://img.example/0.jpg', width: 640, height: 480, external_id: 'item-0', status: 'decided', agreement: expect.closeTo(0.8, 5) },
      { id: tasks[1]!.id, file_name: 'https://img.example/1.jpg', width: 640, height: 480, external_id: 'item-1', status: 'open', agreement: null },
    ]);
    const common = { image_id: tasks[0]!.id, iscrowd: 0, control: 'label', segmentation: [] };
    expect(coco.annotations).toEqual([
      { id: 1, ...common, category_id: 1, bbox: [10, 20, 100, 50], area: 5000 },
      { id: 2, ...common, category_id: 2, bbox: [300, 40, 30, 90], area: 2700 },
    ]);
    expect(coco.gold_annotations).toEqual([{ id: 3, ...common, category_id: 1, bbox: [10, 20, 100, 50], area: 5000 }]);
    expect(coco.annotator_annotations).toEqual([
      { id: 4, ...common, category_id: 1, bbox: [11, 21, 99, 49], area: 99 * 49, assignment_id: expect.any(Number), worker_id: workers[0]!.workerId, status: 'accepted' },
    ]);
    expect(coco.fairlabel_unsized_annotations).toEqual([]);
    const withoutAnnotators = (await exportOf(job.id, 'format=coco')).json();
    expect(withoutAnnotators).not.toHaveProperty('annotator_annotations');

    const { job: classJob } = await classificationJob();
    const refused = await exportOf(classJob.id, 'format=coco');
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('format_not_supported');
    const noControl = await exportOf(job.id, 'format=coco&control=nope');
    expect(noControl.json().error).toMatchObject({ code: 'format_not_supported', details: [{ path: 'query.control' }] });
  });

  test('labelstudio: tasks with data, annotations and predictions, which re-import into fairlabel as the same tasks', async ({ app, env, seed, client, workers, classificationJob, exportOf }) => {
    const { job, tasks } = await classificationJob();
    const res = await exportOf(job.id, 'format=labelstudio&include=annotations');
    expect(res.statusCode).toBe(200);
    const ls = res.json() as { id: number; data: unknown; annotations: Record<string, unknown>[]; predictions: Record<string, unknown>[]; meta: unknown }[];
    expect(ls).toHaveLength(3);
    const first = ls[0]!;
    expect(first).toMatchObject({ id: tasks[0]!.id, data: { text: 'pet, "number" 0', source: { page: 0 } }, meta: { fairlabel: { external_id: 'item-0', status: 'decided' } } });
    expect(first.annotations.map((a) => [a.fairlabel_kind, a.ground_truth, (a.result as { value: { choices: string[] } }[])[0]!.value.choices])).toEqual([
      ['gold', true, ['cat']],
      ['result', false, ['cat']],
      ['annotation', false, ['cat']],
      ['annotation', false, ['dog']],
      ['annotation', false, ['cat']],
    ]);
    expect(first.annotations[3]).toMatchObject({ fairlabel_worker_id: workers[1]!.workerId, fairlabel_status: 'rejected', lead_time: 2.5 });
    expect(first.predictions).toEqual([
      { result: [{ id: `t${tasks[0]!.id}p0_1`, from_name: 'label', to_name: 'item', type: 'choices', value: { choices: ['dog'] } }], score: expect.closeTo(0.4, 5), model_version: 'pets-v2' },
    ]);
    expect(ls[2]).toMatchObject({ annotations: [], predictions: [] });

    // Re-import the file, unchanged, into a new job of the same kind.
    const target = await seed.job(client, { overlap: 3 });
    const imported = await app.inject({ method: 'POST', url: `/v1/jobs/${target.id}/tasks`, headers: { ...client.auth, 'content-type': 'application/json' }, payload: res.body });
    expect(imported.statusCode, imported.body).toBe(200);
    expect(imported.json()).toMatchObject({
      format: 'labelstudio',
      received: 3,
      created: 3,
      duplicates: 0,
      rejected: 0,
      parts: { predictions: { kept: 2, converted: 0, refused: 0 }, annotations: { kept: 6, converted: 1, refused: 0 } },
    });
    const columns = ['external_id', 'payload', 'gold', 'prediction', 'prediction_confidence', 'prediction_model'] as const;
    const before = await env.db.selectFrom('tasks').select(columns).where('job_id', '=', job.id).orderBy('id').execute();
    const after = await env.db.selectFrom('tasks').select(columns).where('job_id', '=', target.id).orderBy('id').execute();
    expect(after).toEqual(before);
  });

  test('streams jobs larger than one batch, in task order', async ({ seed, client, exportOf }) => {
    const job = await seed.job(client);
    const tasks = await seed.tasks(job.id, 1203);
    for (const format of ['jsonl', 'csv', 'labelstudio'] as const) {
      const res = await exportOf(job.id, `format=${format}`);
      expect(res.statusCode).toBe(200);
      const ids =
        format === 'jsonl'
          ? res.body.trimEnd().split('\n').map((l) => JSON.parse(l).task_id)
          : format === 'csv'
            ? (parseCsv(res.body, { columns: true }) as { task_id: string }[]).map((r) => Number(r.task_id))
            : (res.json() as { id: number }[]).map((t) => t.id);
      expect(ids, format).toEqual(tasks.map((t) => t.id));
    }
  });

  test('writes an audit row for every export', async ({ env, client, classificationJob, exportOf }) => {
    const { job } = await classificationJob();
    await exportOf(job.id, 'format=csv');
    await exportOf(job.id, 'format=jsonl&include=annotations');
    const rows = await env.db.selectFrom('audit_log').select(['action', 'actor_key_id', 'organization_id', 'details']).where('resource_id', '=', job.id).orderBy('id').execute();
    expect(rows).toEqual([
      { action: 'job.results_exported', actor_key_id: client.keyId, organization_id: client.organizationId, details: { format: 'csv', include_annotations: false, job_status: 'completed' } },
      { action: 'job.results_exported', actor_key_id: client.keyId, organization_id: client.organizationId, details: { format: 'jsonl', include_annotations: true, job_status: 'completed' } },
    ]);
  });

  test("answers 404 for another client's job, 403 for other roles, 400 for bad queries — and audits none of them", async ({ app, env, seed, client, workers, classificationJob, exportOf }) => {
    const { job } = await classificationJob();
    const other = await seed.client();
    expectError(await exportOf(job.id, 'format=jsonl', other), 404, 'not_found');
    expectError(await exportOf('00000000-0000-4000-8000-000000000000', 'format=jsonl'), 404, 'not_found');
    for (const actor of [await seed.vendor(), workers[0]!, await seed.platformKey('admin')]) expectError(await exportOf(job.id, 'format=jsonl', actor), 403, 'forbidden');
    for (const query of ['format=xml', 'include=everything', 'format=jsonl&extra=1']) expectError(await exportOf(job.id, query), 400, 'validation_failed');
    expectError(await app.inject({ method: 'GET', url: '/v1/jobs/not-a-uuid/results', headers: client.auth }), 400, 'validation_failed');
    const audits = await env.db.selectFrom('audit_log').select('id').where('resource_id', '=', job.id).execute();
    expect(audits).toEqual([]);
  });
});
