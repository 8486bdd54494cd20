import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, labelConfigs, newWorker, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { workerAssignmentRoutes } from '../src/index.js';
import { markStarved, withinFairShare } from '../src/fair-share.js';
import { activeJob, claim, pauseAllJobs, submit, vendorWithWorker } from './helpers.js';

let env: TestEnv;
let app: AppInstance;
beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [workerAssignmentRoutes]);
});
afterAll(async () => {
  await app.close();
  await env.close();
});
beforeEach(() => pauseAllJobs(env));

describe('the claim', () => {
  it('returns the task, instructions, label config, prediction, lease and pay', async () => {
    const { job, tasks } = await activeJob(env, 1, { lease_seconds: 120 });
    await env.db.updateTable('tasks').set({ prediction: JSON.stringify({ label: { choices: ['dog'] } }), prediction_confidence: 0.8, prediction_model: 'm1' }).where('id', '=', tasks[0]!.id).execute();
    const { worker } = await vendorWithWorker(env);
    const before = env.clock.now().getTime();
    const res = await claim(app, worker);
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json();
    expect(a).toMatchObject({
      task_id: tasks[0]!.id,
      job_id: job.id,
      worker_id: worker.workerId,
      status: 'leased',
      task_type: 'classification',
      payload: { text: 'item 0' },
      instructions: job.instructions,
      label_config: labelConfigs.classification,
      prediction: { value: { label: { choices: ['dog'] } }, confidence: expect.closeTo(0.8, 5), model: 'm1' },
      pay: { amount: 5, currency: 'USD', median_seconds_per_task: null, hourly_rate: null },
    });
    const lease = new Date(a.lease_expires_at).getTime() - before;
    expect(lease).toBeGreaterThanOrEqual(119_000);
    expect(lease).toBeLessThanOrEqual(121_000);
  });

  it('quotes the hourly rate at the median time per task once work is submitted', async () => {
    await activeJob(env, 3, { pay_per_annotation: 10 });
    const { worker } = await vendorWithWorker(env);
    const first = (await claim(app, worker)).json();
    expect((await submit(app, worker, first.id, { label: { choices: ['cat'] } }, 36_000)).statusCode).toBe(200);
    env.clock.advance(11_000); // past the median cache
    const second = (await claim(app, worker)).json();
    // 10 minor units per 36 s is 1000 per hour.
    expect(second.pay).toEqual({ amount: 10, currency: 'USD', median_seconds_per_task: 36, hourly_rate: 1000 });
  });

  it('answers 204 with Retry-After when nothing is eligible', async () => {
    const { worker } = await vendorWithWorker(env);
    const res = await claim(app, worker);
    expect(res.statusCode).toBe(204);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('skips jobs that are not active', async () => {
    await activeJob(env, 2, { status: 'paused' });
    const { worker } = await vendorWithWorker(env);
    expect((await claim(app, worker)).statusCode).toBe(204);
  });

  it('honours the vendor allow-list', async () => {
    const { vendor: allowed, worker: inside } = await vendorWithWorker(env);
    const { worker: outside } = await vendorWithWorker(env);
    await activeJob(env, 2, { vendor_allowlist: [allowed.organizationId] });
    expect((await claim(app, outside)).statusCode).toBe(204);
    expect((await claim(app, inside)).statusCode).toBe(200);
  });

  it('stops a vendor at its share cap, leaving the rest to others', async () => {
    const { vendor, worker: w1 } = await vendorWithWorker(env);
    const w2 = await newWorker(env.db, vendor.organizationId);
    const { worker: other } = await vendorWithWorker(env);
    // 4 annotations in all; a 0.5 cap lets the vendor hold 2.
    await activeJob(env, 4, { vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 0.5 }) });
    expect((await claim(app, w1)).statusCode).toBe(200);
    expect((await claim(app, w2)).statusCode).toBe(200);
    expect((await claim(app, w1)).statusCode).toBe(204);
    expect((await claim(app, other)).statusCode).toBe(200);
  });

  it('gives a released slot back to the capped vendor', async () => {
    const { vendor, worker } = await vendorWithWorker(env);
    await activeJob(env, 2, { vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 0.5 }) });
    const a = (await claim(app, worker)).json();
    expect((await claim(app, worker)).statusCode).toBe(204);
    const rel = await app.inject({ method: 'POST', url: `/v1/assignments/${a.id}/release`, headers: worker.auth, payload: { reason: 'skip' } });
    expect(rel.statusCode, rel.body).toBe(200);
    expect((await claim(app, worker)).statusCode).toBe(200);
  });

  it('requires the skill at the job minimum level', async () => {
    await activeJob(env, 2, { required_skill: 'ner', min_level: 3 });
    const { worker: low } = await vendorWithWorker(env, { skills: { ner: 2 } });
    const { worker: none } = await vendorWithWorker(env);
    const { worker: high } = await vendorWithWorker(env, { skills: { ner: 3 } });
    expect((await claim(app, low)).statusCode).toBe(204);
    expect((await claim(app, none)).statusCode).toBe(204);
    expect((await claim(app, high)).statusCode).toBe(200);
  });

  it('refuses a worker suspended from the skill', async () => {
    await activeJob(env, 2, { required_skill: 'boxes' });
    const { worker } = await vendorWithWorker(env, { skills: { boxes: 4 } });
    await env.db.updateTable('worker_skills').set({ suspended_at: new Date() }).where('worker_id', '=', worker.workerId).execute();
    expect((await claim(app, worker)).statusCode).toBe(204);
    await env.db.updateTable('worker_skills').set({ suspended_at: null }).where('worker_id', '=', worker.workerId).execute();
    expect((await claim(app, worker)).statusCode).toBe(200);
  });

  it('refuses a worker their vendor suspended', async () => {
    await activeJob(env, 2);
    const { worker } = await vendorWithWorker(env, { status: 'suspended' });
    const res = await claim(app, worker);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('worker_suspended');
  });

  it('keeps data in its allowed regions (country or country-province)', async () => {
    await activeJob(env, 3, { allowed_regions: ['KE', 'IN-MH'] });
    const { worker: karnataka } = await vendorWithWorker(env, { region_country: 'IN', region_province: 'KA' });
    const { worker: maharashtra } = await vendorWithWorker(env, { region_country: 'IN', region_province: 'MH' });
    const { worker: kenya } = await vendorWithWorker(env, { region_country: 'KE', region_province: null });
    expect((await claim(app, karnataka)).statusCode).toBe(204);
    expect((await claim(app, maharashtra)).statusCode).toBe(200);
    expect((await claim(app, kenya)).statusCode).toBe(200);
  });

  it('never gives a task more live or submitted assignments than its overlap', async () => {
    const { tasks } = await activeJob(env, 1, { overlap: 2 });
    const { vendor, worker: w1 } = await vendorWithWorker(env);
    const w2 = await newWorker(env.db, vendor.organizationId);
    const w3 = await newWorker(env.db, vendor.organizationId);
    const a1 = (await claim(app, w1)).json();
    expect((await submit(app, w1, a1.id)).statusCode).toBe(200);
    expect((await claim(app, w2)).json().task_id).toBe(tasks[0]!.id);
    expect((await claim(app, w3)).statusCode).toBe(204);
  });

  it('never gives a worker an item they already did', async () => {
    await activeJob(env, 1, { overlap: 3 });
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
    expect((await claim(app, worker)).statusCode).toBe(204);
  });

  it('orders by job priority, then task priority, then deadline, then oldest task', async () => {
    const soon = new Date(Date.now() + 3600_000);
    const later = new Date(Date.now() + 7200_000);
    const low = await activeJob(env, 1, { priority: 0 });
    const lateDeadline = await activeJob(env, 2, { priority: 5, deadline: later });
    const early = await activeJob(env, 2, { priority: 5, deadline: soon });
    await env.db.updateTable('tasks').set({ priority: 9 }).where('id', '=', lateDeadline.tasks[1]!.id).execute();
    const { worker } = await vendorWithWorker(env);
    const order = [];
    for (let i = 0; i < 5; i++) order.push((await claim(app, worker)).json().task_id);
    expect(order).toEqual([lateDeadline.tasks[1]!.id, early.tasks[0]!.id, early.tasks[1]!.id, lateDeadline.tasks[0]!.id, low.tasks[0]!.id]);
  });

  it('stops a worker at the daily active-time limit until midnight in their time zone', async () => {
    await activeJob(env, 3, { lease_seconds: 3600 });
    const { worker } = await vendorWithWorker(env, { daily_active_limit_seconds: 600, timezone: 'Asia/Kolkata' });
    const a = (await claim(app, worker)).json();
    env.clock.advance(601_000);
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
    const res = await claim(app, worker);
    expect(res.statusCode).toBe(409);
    const body = res.json();
    expect(body.error.code).toBe('daily_limit_reached');
    const resetsAt = new Date(body.error.details[0].resets_at);
    // Midnight in Kolkata is 18:30 UTC.
    expect(resetsAt.getUTCHours() * 60 + resetsAt.getUTCMinutes()).toBe(18 * 60 + 30);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    env.clock.advance(resetsAt.getTime() - env.clock.now().getTime() + 1000);
    expect((await claim(app, worker)).statusCode).toBe(200);
  });
});

describe('fair share across vendors', () => {
  it('takes a slot only within the weighted share among waiting vendors', () => {
    const window = [
      { vendor_id: 'a', n: 9 },
      { vendor_id: 'b', n: 1 },
    ];
    expect(withinFairShare(window, 'a', [], {})).toBe(true);
    expect(withinFairShare(window, 'a', ['b'], {})).toBe(false);
    expect(withinFairShare(window, 'b', ['a'], {})).toBe(true);
    // a's cap is 9 times b's: 90% is its share.
    expect(withinFairShare(window, 'a', ['b'], { a: 0.9, b: 0.1 })).toBe(true);
    // A waiting vendor that has not worked this job recently does not hold others back.
    expect(withinFairShare(window, 'a', ['c'], {})).toBe(true);
  });

  it('holds a fast vendor back while a competing vendor waits, and not after', async () => {
    await activeJob(env, 12);
    const { vendor: fast, worker: f1 } = await vendorWithWorker(env);
    const f2 = await newWorker(env.db, fast.organizationId);
    const { vendor: slow, worker: s1 } = await vendorWithWorker(env);
    expect((await claim(app, s1)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await claim(app, f1)).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) expect((await claim(app, f2)).statusCode).toBe(200);
    await markStarved(env.redis, env.prefix, slow.organizationId, env.clock.now());
    // fast holds 5 of the 6 recent assignments; with slow waiting, its half share (+2 slack) is used up.
    expect((await claim(app, f1)).statusCode).toBe(204);
    expect((await claim(app, s1)).statusCode).toBe(200);
    // Once slow stops waiting, fast may take everything again.
    env.clock.advance(11_000);
    expect((await claim(app, f2)).statusCode).toBe(200);
  });
});
