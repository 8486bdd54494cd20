import { describe, expect } from 'vitest';
import { expectError, integrationTest, labelConfigs, type Actor, type Seed } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import type { JobStatus, TaskType } from '@fairlabel/db';
import { jobAndImportRoutes } from './helpers.js';

const test = integrationTest({ app: [jobAndImportRoutes] });

const baseJob = { name: 'Cats and dogs', task_type: 'classification', label_config: { labels: ['cat', 'dog'] }, pay_per_annotation: 5, client_price_per_item: 20, currency: 'USD' };

function create(app: AppInstance, who: Actor, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...who.auth, ...headers }, payload: body });
}

/** A job of `client` in `status`, with two tasks unless told otherwise. */
async function jobIn(seed: Seed, client: Actor, status: JobStatus, withTasks = true) {
  const job = await seed.job(client, { status });
  if (withTasks) await seed.tasks(job.id, 2);
  return job;
}

describe('POST /v1/jobs', () => {
  test('creates a draft with every field and the defaults filled in', async ({ app, client }) => {
    const vendorA = '00000000-0000-4000-8000-00000000000a';
    const res = await create(app, client, {
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
    const minimal = (await create(app, client, baseJob)).json();
    expect(minimal).toMatchObject({ overlap: 1, min_level: 1, lease_seconds: 600, vendor_allowlist: null, qa_policy: { consensus_method: 'majority' }, instructions: '' });
  });

  test("accepts a v2 config of every kind as stored, and the first API's per-type form converted to v2", async ({ app, client }) => {
    for (const [kind, config] of Object.entries(labelConfigs)) {
      const res = await create(app, client, { ...baseJob, task_type: undefined, label_config: config });
      expect(res.statusCode, `${kind}: ${res.body}`).toBe(201);
      expect(res.json().label_config, kind).toEqual(config);
      expect(res.json().task_type, kind).toBe(kind === 'transcription' ? 'free_text' : kind);
    }
    const multi = (await create(app, client, { ...baseJob, task_type: 'multi_label', label_config: { labels: ['a', 'b', 'c'] } })).json();
    expect(multi.task_type).toBe('multi_label');
    expect(multi.label_config).toEqual({
      version: 2,
      objects: [{ name: 'item', type: 'text', value: '$text' }],
      controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['a', 'b', 'c'], multiple: true, min: 1, max: 3, required: true, per_region: false }],
    });
    const mismatch = await create(app, client, { ...baseJob, task_type: 'text_spans', label_config: labelConfigs.classification });
    expect(expectError(mismatch, 422, 'invalid_label_config').details[0]!.path).toBe('body.task_type');
    const v2Invalid = await create(app, client, { ...baseJob, task_type: undefined, label_config: { objects: [{ name: 'i', type: 'image', value: '$i' }], controls: [{ name: 'c', type: 'labels', to_name: 'i', labels: ['a'] }] } });
    expect(expectError(v2Invalid, 422, 'invalid_label_config').details).toMatchObject([{ path: 'body.label_config.controls.0.to_name' }]);
  });

  test('refuses an invalid label config of every task type with a 422 naming the field', async ({ app, client }) => {
    const invalid: Record<Exclude<TaskType, 'custom'>, [Record<string, unknown>, string]> = {
      classification: [{ labels: ['one'] }, 'body.label_config.labels'],
      multi_label: [{ labels: ['a', 'b'], max_picks: 5 }, 'body.label_config.max_picks'],
      bounding_boxes: [{ labels: ['car'], image_width: 100 }, 'body.label_config.image_height'],
      text_spans: [{ entity_types: [] }, 'body.label_config.entity_types'],
      transcription: [{ max_length: 0 }, 'body.label_config.max_length'],
      free_text: [{}, 'body.label_config.max_length'],
    };
    for (const [taskType, [config, path]] of Object.entries(invalid)) {
      const res = await create(app, client, { ...baseJob, task_type: taskType, label_config: config });
      expect(res.statusCode, taskType).toBe(422);
      expect(res.json().error.code).toBe('invalid_label_config');
      expect(res.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  test('answers 400 for malformed fields and 422 for share caps off the allow-list', async ({ app, client }) => {
    const bad = expectError(await create(app, client, { ...baseJob, overlap: 10, currency: 'usd' }), 400, 'validation_failed');
    expect(bad.details.map((d) => d.path).sort()).toEqual(['body.currency', 'body.overlap']);
    expectError(await create(app, client, { ...baseJob, task_type: 'video' }), 400, 'validation_failed');
    const caps = await create(app, client, { ...baseJob, vendor_allowlist: ['00000000-0000-4000-8000-000000000001'], vendor_share_caps: { '00000000-0000-4000-8000-000000000002': 0.5 } });
    expectError(caps, 422, 'invalid_share_caps');
  });

  test('replays the first response for a repeated Idempotency-Key', async ({ app, env, client }) => {
    const first = await create(app, client, baseJob, { 'idempotency-key': 'job-1' });
    const second = await create(app, client, baseJob, { 'idempotency-key': 'job-1' });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json().id).toBe(first.json().id);
    const count = await env.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('id', '=', first.json().id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  test('is for client keys only', async ({ app, env, vendor, worker }) => {
    for (const who of [vendor, worker]) {
      expectError(await create(app, who, baseJob), 403, 'forbidden');
      expectError(await app.inject({ method: 'GET', url: '/v1/jobs', headers: who.auth }), 403, 'forbidden');
    }
    const jobs = await env.db.selectFrom('jobs').select('id').where('client_id', 'in', [vendor.organizationId, worker.organizationId]).execute();
    expect(jobs).toEqual([]);
  });
});

describe('reading jobs', () => {
  test("another client's job is a 404 for every route", async ({ app, seed, client }) => {
    const other = await seed.client();
    const job = await jobIn(seed, client, 'draft');
    for (const [method, url, payload] of [
      ['GET', `/v1/jobs/${job.id}`],
      ['PATCH', `/v1/jobs/${job.id}`, { name: 'x' }],
      ['POST', `/v1/jobs/${job.id}/activate`],
      ['POST', `/v1/jobs/${job.id}/cancel`],
      ['GET', `/v1/jobs/${job.id}/progress`],
    ] as const) {
      const res = await app.inject({ method, url, headers: other.auth, ...(payload ? { payload } : {}) });
      expectError(res, 404, 'not_found');
    }
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}`, headers: client.auth })).statusCode).toBe(200);
  });

  test('lists only your jobs, page by page, filtered by status', async ({ app, env, seed, client: mine }) => {
    await jobIn(seed, await seed.client(), 'paused');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(app, mine, baseJob)).json().id);
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
    expectError(await app.inject({ method: 'GET', url: '/v1/jobs?cursor=garbage', headers: mine.auth }), 400, 'invalid_cursor');
    expectError(await app.inject({ method: 'GET', url: '/v1/jobs?status=sleeping', headers: mine.auth }), 400, 'validation_failed');
  });
});

describe('PATCH /v1/jobs/:id', () => {
  test('changes any field of a draft, re-checking the label config', async ({ app, seed, client }) => {
    const job = await jobIn(seed, client, 'draft');
    const res = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { name: 'Renamed', overlap: 5, task_type: 'free_text', label_config: { max_length: 50 } } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ name: 'Renamed', overlap: 5, task_type: 'free_text', label_config: { controls: [{ name: 'answer', type: 'textarea', min_length: 0, max_length: 50 }] } });
    // A task type alone says nothing about the config.
    const typeOnly = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { task_type: 'classification' } });
    expect(expectError(typeOnly, 422, 'invalid_label_config').details).toMatchObject([{ path: 'body.label_config' }]);
    const legacyInvalid = await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: { task_type: 'classification', label_config: { labels: ['one'] } } });
    expect(expectError(legacyInvalid, 422, 'invalid_label_config').details[0]!.path).toBe('body.label_config.labels');
    expectError(await app.inject({ method: 'PATCH', url: `/v1/jobs/${job.id}`, headers: client.auth, payload: {} }), 400, 'validation_failed');
  });

  test('changes only operational fields of a paused job, and nothing of an active, completed or cancelled one', async ({ app, seed, client }) => {
    const paused = await jobIn(seed, client, 'paused');
    const ok = await app.inject({ method: 'PATCH', url: `/v1/jobs/${paused.id}`, headers: client.auth, payload: { instructions: 'Clearer.', priority: 3 } });
    expect(ok.statusCode).toBe(200);
    const locked = await app.inject({ method: 'PATCH', url: `/v1/jobs/${paused.id}`, headers: client.auth, payload: { pay_per_annotation: 1, label_config: { labels: ['a', 'b'] } } });
    expect(locked.statusCode).toBe(409);
    expect(locked.json().error).toMatchObject({ code: 'field_locked' });
    for (const status of ['active', 'completed', 'cancelled'] as const) {
      const job = await jobIn(seed, client, status);
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

  const cases = statuses.flatMap((from) => actions.map((action) => ({ from, action, to: legal[`${from}:${action}`] })));

  for (const { from, action, to } of cases.filter((c) => c.to)) {
    test(`${action} from ${from}: -> ${to}`, async ({ app, env, seed, client }) => {
      const job = await jobIn(seed, client, from);
      const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/${action}`, headers: client.auth });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().status).toBe(to);
      const after = await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(after.status).toBe(to);
    });
  }

  for (const { from, action } of cases.filter((c) => !c.to)) {
    test(`${action} from ${from}: 409 invalid_transition`, async ({ app, env, seed, client }) => {
      const job = await jobIn(seed, client, from);
      const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/${action}`, headers: client.auth });
      expect(expectError(res, 409, 'invalid_transition')).toMatchObject({ message: `cannot ${action} a job that is ${from}`, details: [{ current_status: from }] });
      const after = await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(after.status).toBe(from);
    });
  }

  test('activation needs at least one task, stamps activated_at and publishes job.activated', async ({ app, env, seed, client }) => {
    const empty = await jobIn(seed, client, 'draft', false);
    const refused = await app.inject({ method: 'POST', url: `/v1/jobs/${empty.id}/activate`, headers: client.auth });
    expectError(refused, 409, 'job_has_no_tasks');
    const job = await jobIn(seed, client, 'draft');
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/activate`, headers: client.auth });
    expect(res.json().activated_at).not.toBeNull();
    const events = await env.db.selectFrom('outbox').select(['event', 'payload']).where('event', '=', 'job.activated').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId });
  });

  test('cancel closes the open tasks and publishes job.cancelled', async ({ app, env, seed, client }) => {
    const job = await jobIn(seed, client, 'active');
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

  test('resuming a job whose tasks were all decided while paused completes it', async ({ app, env, seed, client }) => {
    const job = await jobIn(seed, client, 'paused');
    await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('job_id', '=', job.id).execute();
    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/resume`, headers: client.auth });
    expect(res.json().status).toBe('completed');
    const events = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'job.completed').execute();
    expect(events.map((e) => e.payload)).toContainEqual({ job_id: job.id, client_id: client.organizationId });
  });

  test('an unknown action or a malformed id is not a 500', async ({ app, seed, client }) => {
    const job = await jobIn(seed, client, 'draft');
    expectError(await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/explode`, headers: client.auth }), 404, 'route_not_found');
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs/not-a-uuid/activate', headers: client.auth }), 400, 'validation_failed');
  });
});
