import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, labelConfigs, newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import type { JobStatus, TaskType } from '@fairlabel/db';
import { jobAndImportRoutes } from './helpers.js';

let env: TestEnv;
let app: AppInstance;
let client: Actor;
let other: Actor;

beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [jobAndImportRoutes]);
  client = await newClient(env.db);
  other = await newClient(env.db);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const baseJob = { name: 'Cats and dogs', task_type: 'classification', label_config: { labels: ['cat', 'dog'] }, pay_per_annotation: 5, client_price_per_item: 20, currency: 'USD' };

async function create(body: Record<string, unknown>, auth = client.auth, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth, ...headers }, payload: body });
}

async function jobIn(status: JobStatus, withTasks = true) {
  const job = await newJob(env.db, client.organizationId);
  if (withTasks) await newTasks(env.db, job.id, 2);
  await env.db.updateTable('jobs').set({ status }).where('id', '=', job.id).execute();
  return job;
}

describe('POST /v1/jobs', () => {
  it('creates a draft with every field and the defaults filled in', async () => {
    const vendorA = '00000000-0000-4000-8000-00000000000a';
    const res = await create({
      ...baseJob,
      instructions: 'Pick one.',
      required_skill: 'pets',
      min_level: 2,
      overlap: 3,
      vendor_allowlist: [vendorA],
      vendor_share_caps: { [vendorA]: 0.5 },
      priority: 7,
      deadline: '2030-01-01T00:00:00Z',
      lease_seconds: 900,
      qa_policy: { gold_ratio: 0.1, review_sample_rate: 0.05, consensus_method: 'dawid_skene', accuracy_floor: 0.7 },
      contains_pii: true,
      allowed_regions: ['IN', 'KE'],
    });
    expect(res.statusCode, res.body).toBe(201);
    const job = res.json();
    expect(job).toMatchObject({
      status: 'draft',
      client_id: client.organizationId,
      overlap: 3,
      min_level: 2,
      required_skill: 'pets',
      vendor_allowlist: [vendorA],
      vendor_share_caps: { [vendorA]: 0.5 },
      deadline: '2030-01-01T00:00:00.000Z',
      qa_policy: { gold_ratio: 0.1, consensus_method: 'dawid_skene' },
      contains_pii: true,
      allowed_regions: ['IN', 'KE'],
      activated_at: null,
    });
    const minimal = (await create(baseJob)).json();
    expect(minimal).toMatchObject({ overlap: 1, min_level: 1, lease_seconds: 600, vendor_allowlist: null, qa_policy: { consensus_method: 'majority' }, instructions: '' });
  });

  it('accepts a v2 config of every kind as stored, and the first API\'s per-type form converted to v2', async () => {
    for (const [kind, config] of Object.entries(labelConfigs)) {
      const res = await create({ ...baseJob, task_type: undefined, label_config: config });
      expect(res.statusCode, `${kind}: ${res.body}`).toBe(201);
      expect(res.json().label_config, kind).toEqual(config);
      expect(res.json().task_type, kind).toBe(kind === 'transcription' ? 'free_text' : kind);
    }
    const multi = (await create({ ...baseJob, task_type: 'multi_label', label_config: { labels: ['a', 'b', 'c'] } })).json();
    expect(multi.task_type).toBe('multi_label');
    expect(multi.label_config).toEqual({
      version: 2,
      objects: [{ name: 'item', type: 'text', value: '$text' }],
      controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['a', 'b', 'c'], multiple: true, min: 1, max: 3, required: true, per_region: false }],
    });
    const mismatch = await create({ ...baseJob, task_type: 'text_spans', label_config: labelConfigs.classification });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.json().error.details[0].path).toBe('body.task_type');
    const v2Invalid = await create({ ...baseJob, task_type: undefined, label_config: { objects: [{ name: 'i', type: 'image', value: '$i' }], controls: [{ name: 'c', type: 'labels', to_name: 'i', labels: ['a'] }] } });
    expect(v2Invalid.statusCode).toBe(422);
    expect(v2Invalid.json().error).toMatchObject({ code: 'invalid_label_config', details: [{ path: 'body.label_config.controls.0.to_name' }] });
  });

  it('refuses an invalid label config of every task type with a 422 naming the field', async () => {
    const invalid: Record<Exclude<TaskType, 'custom'>, [Record<string, unknown>, string]> = {
      classification: [{ labels: ['one'] }, 'body.label_config.labels'],
      multi_label: [{ labels: ['a', 'b'], max_picks: 5 }, 'body.label_config.max_picks'],
      bounding_boxes: [{ labels: ['car'], image_width: 100 }, 'body.label_config.image_height'],
      text_spans: [{ entity_types: [] }, 'body.label_config.entity_types'],
      transcription: [{ max_length: 0 }, 'body.label_config.max_length'],
      free_text: [{}, 'body.label_config.max_length'],
    };
    for (const [taskType, [config, path]] of Object.entries(invalid)) {
      const res = await create({ ...baseJob, task_type: taskType, label_config: config });
      expect(res.statusCode, taskType).toBe(422);
      expect(res.json().error.code).toBe('invalid_label_config');
      expect(res.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('answers 400 for malformed fields and 422 for share caps off the allow-list', async () => {
    const bad = await create({ ...baseJob, overlap: 10, currency: 'usd' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(['body.currency', 'body.overlap']);
    expect((await create({ ...baseJob, task_type: 'video' })).statusCode).toBe(400);
    const caps = await create({ ...baseJob, vendor_allowlist: ['00000000-0000-4000-8000-000000000001'], vendor_share_caps: { '00000000-0000-4000-8000-000000000002': 0.5 } });
    expect(caps.statusCode).toBe(422);
    expect(caps.json().error.code).toBe('invalid_share_caps');
  });

  it('replays the first response for a repeated Idempotency-Key', async () => {
    const first = await create(baseJob, client.auth, { 'idempotency-key': 'job-1' });
    const second = await create(baseJob, client.auth, { 'idempotency-key': 'job-1' });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json().id).toBe(first.json().id);
    const count = await env.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('id', '=', first.json().id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('is for client keys only', async () => {
    const vendor = await newVendor(env.db);
    const worker = await newWorker(env.db, vendor.organizationId);
    for (const auth of [vendor.auth, worker.auth]) {
      expect((await create(baseJob, auth)).statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/v1/jobs', headers: auth })).statusCode).toBe(403);
    }
  });
});

describe('reading jobs', () => {
  it("another client's job is a 404 for every route", async () => {
    const job = await jobIn('draft');
    for (const [method, url, payload] of [
      ['GET', `/v1/jobs/${job.id}`],
      ['PATCH', `/v1/jobs/${job.id}`, { name: 'x' }],
      ['POST', `/v1/jobs/${job.id}/activate`],
      ['POST', `/v1/jobs/${job.id}/cancel`],
      ['GET', `/v1/jobs/${job.id}/progress`],
    ] as const) {
      const res = await app.inject({ method, url, headers: other.auth, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}`, headers: client.auth })).statusCode).toBe(200);
  });

  it('lists only your jobs, page by page, filtered by status', async () => {
    const mine = await newClient(env.db);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(baseJob, mine.auth)).json().id);
    await env.db.updateTable('jobs').set({ status: 'paused' }).where('id', 'in', ids.slice(0, 2)).execute();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<typeof app.inject>> = await app.inject({ method: 'GET', url: `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: mine.auth });
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().data.map((j: { id: string }) => j.id));
      cursor = res.json().next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    const paused = await app.inject({ method: 'GET', url: '/v1/jobs?status=paused', headers: mine.auth });
    expect(paused.json().data.map((j: { id: string }) => j.id)).toEqual(ids.slice(0, 2));
    expect((await app.inject({ method: 'GET', url: '/v1/jobs?cursor=garbage', headers: mine.auth })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/jobs?status=sleeping', headers: mine.auth })).statusCode).toBe(400);
  });
});

describe('PATCH /v1/jobs/:id', () => {
  it('changes any field of a draft, re-checking the label config', async () => {
    const job = await jobIn('draft');
    const res = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { name: 'Renamed', overlap: 5, task_type: 'free_text', label_config: { max_length: 50 } } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ name: 'Renamed', overlap: 5, task_type: 'free_text', label_config: { controls: [{ name: 'answer', type: 'textarea', min_length: 0, max_length: 50 }] } });
    // A task type alone says nothing about the config.
    const typeOnly = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { task_type: 'classification' } });
    expect(typeOnly.statusCode).toBe(422);
    expect(typeOnly.json().error).toMatchObject({ code: 'invalid_label_config', details: [{ path: 'body.label_config' }] });
    const legacyInvalid = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { task_type: 'classification', label_config: { labels: ['one'] } } });
    expect(legacyInvalid.json().error.details[0].path).toBe('body.label_config.labels');
    expect((await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: {} })).statusCode).toBe(400);
  });

  it('changes only operational fields of a paused job, and nothing of an active, completed or cancelled one', async () => {
    const paused = await jobIn('paused');
    const ok = await app.inject({ method: 'PATCH', url: `/v1/jobs/${paused.id}`, headers: client.auth, payload: { instructions: 'Clearer.', priority: 3 } });
    expect(ok.statusCode).toBe(200);
    const locked = await app.inject({ method: 'PATCH', url: `/v1/jobs/${paused.id}`, headers: client.auth, payload: { pay_per_annotation: 1, label_config: { labels: ['a', 'b'] } } });
    expect(locked.statusCode).toBe(409);
    expect(locked.json().error).toMatchObject({ code: 'field_locked' });
    for (const status of ['active', 'completed', 'cancelled'] as const) {
      const job = await jobIn(status);
      const res = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { name: 'x' } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'invalid_transition', details: [{ current_status: status }] });
    }
  });
});

describe('transitions', () => {
  const legal: Record<string, JobStatus> = {
    'draft:activate': 'active',
    'active:pause': 'paused',
    'paused:resume': 'active',
    'draft:cancel': 'cancelled',
    'active:cancel': 'cancelled',
    'paused:cancel': 'cancelled',
  };
  const statuses: JobStatus[] = ['draft', 'active', 'paused', 'completed', 'cancelled'];
  const actions = ['activate', 'pause', 'resume', 'cancel'] as const;

  for (const from of statuses) {
    for (const action of actions) {
      const to = legal[`${from}:${action}`];
      it(`${action} from ${from}: ${to ? `-> ${to}` : '409 invalid_transition'}`, async () => {
        const job = await jobIn(from);
        const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/${action}`, headers: client.auth });
        const after = await env.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
        if (to) {
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json().status).toBe(to);
          expect(after.status).toBe(to);
        } else {
          expect(res.statusCode).toBe(409);
          expect(res.json().error).toMatchObject({ code: 'invalid_transition', message: `cannot ${action} a job that is ${from}`, details: [{ current_status: from }] });
          expect(after.status).toBe(from);
        }
      });
    }
  }

  it('activation needs at least one task, stamps activated_at and publishes job.activated', async () => {
    const empty = await jobIn('draft', false);
    const refused = await app.inject({ method: 'POST', url: `/v1/jobs/${empty.id}/activate`, headers: client.auth });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('job_has_no_tasks');
    const job = await jobIn('draft');
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/activate`, headers: client.auth });
    expect(res.json().activated_at).not.toBeNull();
    const events = await env.db.selectFrom('outbox').select(['event', 'payload']).where('event', '=', 'job.activated').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId });
  });

  it('cancel closes the open tasks and publishes job.cancelled', async () => {
    const job = await jobIn('active');
    const [first] = await env.db.selectFrom('tasks').select('id').where('job_id', '=', job.id).orderBy('id').execute();
    await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', first!.id).execute();
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: client.auth });
    expect(res.json()).toMatchObject({ status: 'cancelled' });
    expect(res.json().cancelled_at).not.toBeNull();
    const tasks = await env.db.selectFrom('tasks').select('status').where('job_id', '=', job.id).orderBy('id').execute();
    expect(tasks.map((t) => t.status)).toEqual(['decided', 'cancelled']);
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'job.cancelled').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId });
  });

  it('resuming a job whose tasks were all decided while paused completes it', async () => {
    const job = await jobIn('paused');
    await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('job_id', '=', job.id).execute();
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/resume`, headers: client.auth });
    expect(res.json().status).toBe('completed');
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'job.completed').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId });
  });

  it('an unknown action or a malformed id is not a 500', async () => {
    const job = await jobIn('draft');
    expect((await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/explode`, headers: client.auth })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/v1/jobs/not-a-uuid/activate', headers: client.auth })).statusCode).toBe(400);
  });
});
