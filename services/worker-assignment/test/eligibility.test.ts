import { describe, expect, vi } from 'vitest';
import { labelConfigs } from '@fairlabel/testing';
import { markStarved, withinFairShare } from '../src/fair-share.js';
import { payQuote } from '../src/pay.js';
import { claim, expectClaim, expectNoClaim, lease, submit, test } from './helpers.js';

describe('the claim', () => {
  test('returns the task, instructions, label config, prediction, lease and pay', async ({ app, env, seed, worker }) => {
    const job = await seed.activeJob(1, { lease_seconds: 120 });
    const task = job.tasks[0]!;
    await env.db.updateTable('tasks').set({ prediction: JSON.stringify({ label: { choices: ['dog'] } }), prediction_confidence: 0.8, prediction_model: 'm1' }).where('id', '=', task.id).execute();
    const before = env.clock.now().getTime();
    const res = await claim(app, worker);
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json();
    expect(a).toMatchObject({
      task_id: task.id,
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
    const leaseMs = new Date(a.lease_expires_at).getTime() - before;
    expect(leaseMs).toBeGreaterThanOrEqual(119_000);
    expect(leaseMs).toBeLessThanOrEqual(121_000);
  });

  test('quotes the hourly rate at the median time per task once work is submitted, refreshed in the background', async ({ app, env, seed, worker }) => {
    const { tasks } = await seed.activeJob(3, { pay_per_annotation: 10 });
    const first = await expectClaim(app, worker, tasks[0]!);
    expect(first.pay).toMatchObject({ median_seconds_per_task: null, hourly_rate: null });
    expect((await submit(app, worker, first.id, { label: { choices: ['cat'] } }, 36_000)).statusCode).toBe(200);
    env.clock.advance(11_000); // past the median's TTL
    // The first claim after the TTL is quoted the figure there was and starts one reload, in the background…
    const second = await expectClaim(app, worker, tasks[1]!);
    expect(second.pay).toMatchObject({ median_seconds_per_task: null, hourly_rate: null });
    // …which every quote gets once it is in: 10 minor units per 36 s is 1000 per hour.
    const fresh = { amount: 10, currency: 'USD', median_seconds_per_task: 36, hourly_rate: 1000 };
    await vi.waitFor(async () => expect(await payQuote(app.deps, tasks[0]!.job_id, 10, 'USD')).toEqual(fresh));
    expect((await expectClaim(app, worker, tasks[2]!)).pay).toEqual(fresh);
  });

  test('answers 204 with Retry-After when nothing is eligible, and writes nothing', async ({ app, env, worker }) => {
    await expectNoClaim(app, env, worker, []);
  });

  test('skips jobs that are not active', async ({ app, env, seed, worker }) => {
    const paused = await seed.activeJob(2, { status: 'paused' });
    await expectNoClaim(app, env, worker, [paused]);
  });

  test('honours the vendor allow-list', async ({ app, env, seed }) => {
    const { vendor: allowed, worker: inside } = await seed.vendorWithWorker();
    const { worker: outside } = await seed.vendorWithWorker();
    const job = await seed.activeJob(2, { vendor_allowlist: [allowed.organizationId] });
    await expectNoClaim(app, env, outside, [job]);
    await expectClaim(app, inside, job.tasks[0]!);
  });

  test('stops a vendor at its share cap, leaving the rest to others', async ({ app, env, seed, vendor, worker: w1 }) => {
    const w2 = await seed.worker(vendor);
    const { worker: other } = await seed.vendorWithWorker();
    // 4 annotations in all; a 0.5 cap lets the vendor hold 2.
    const job = await seed.activeJob(4, { vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 0.5 }) });
    await expectClaim(app, w1, job.tasks[0]!);
    await expectClaim(app, w2, job.tasks[1]!);
    await expectNoClaim(app, env, w1, [job]);
    await expectClaim(app, other, job.tasks[2]!);
  });

  test('gives a released slot back to the capped vendor', async ({ app, env, seed, vendor, worker }) => {
    const job = await seed.activeJob(2, { vendor_share_caps: JSON.stringify({ [vendor.organizationId]: 0.5 }) });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    await expectNoClaim(app, env, worker, [job]);
    const rel = await lease(app, worker, a.id, 'release', { reason: 'skip' });
    expect(rel.statusCode, rel.body).toBe(200);
    // The vendor's share is free again; the worker gets the other item, not the one it gave back.
    await expectClaim(app, worker, job.tasks[1]!);
  });

  test('requires the skill at the job minimum level', async ({ app, env, seed }) => {
    const job = await seed.activeJob(2, { required_skill: 'ner', min_level: 3 });
    const { worker: low } = await seed.vendorWithWorker({ skills: { ner: 2 } });
    const { worker: none } = await seed.vendorWithWorker();
    const { worker: high } = await seed.vendorWithWorker({ skills: { ner: 3 } });
    await expectNoClaim(app, env, low, [job]);
    await expectNoClaim(app, env, none, [job]);
    await expectClaim(app, high, job.tasks[0]!);
  });

  test('refuses a worker suspended from the skill', async ({ app, env, seed }) => {
    const job = await seed.activeJob(2, { required_skill: 'boxes' });
    const { worker } = await seed.vendorWithWorker({ skills: { boxes: 4 } });
    await env.db.updateTable('worker_skills').set({ suspended_at: new Date() }).where('worker_id', '=', worker.workerId).execute();
    await expectNoClaim(app, env, worker, [job]);
    await env.db.updateTable('worker_skills').set({ suspended_at: null }).where('worker_id', '=', worker.workerId).execute();
    await expectClaim(app, worker, job.tasks[0]!);
  });

  test('refuses a worker their vendor suspended, writing nothing', async ({ app, env, seed }) => {
    const job = await seed.activeJob(2);
    const { worker } = await seed.vendorWithWorker({ status: 'suspended' });
    await expectNoClaim(app, env, worker, [job], { status: 403, code: 'worker_suspended' });
  });

  test('keeps data in its allowed regions (country or country-province)', async ({ app, env, seed }) => {
    const job = await seed.activeJob(3, { allowed_regions: ['KE', 'IN-MH'] });
    const { worker: karnataka } = await seed.vendorWithWorker({ region_country: 'IN', region_province: 'KA' });
    const { worker: maharashtra } = await seed.vendorWithWorker({ region_country: 'IN', region_province: 'MH' });
    const { worker: kenya } = await seed.vendorWithWorker({ region_country: 'KE', region_province: null });
    await expectNoClaim(app, env, karnataka, [job]);
    await expectClaim(app, maharashtra, job.tasks[0]!);
    await expectClaim(app, kenya, job.tasks[1]!);
  });

  test('never gives a task more live or submitted assignments than its overlap', async ({ app, env, seed, vendor, worker: w1 }) => {
    const job = await seed.activeJob(1, { overlap: 2 });
    const w2 = await seed.worker(vendor);
    const w3 = await seed.worker(vendor);
    const a1 = await expectClaim(app, w1, job.tasks[0]!);
    expect((await submit(app, w1, a1.id)).statusCode).toBe(200);
    await expectClaim(app, w2, job.tasks[0]!);
    await expectNoClaim(app, env, w3, [job]);
  });

  test('never gives a worker an item they already did', async ({ app, env, seed, worker }) => {
    const job = await seed.activeJob(1, { overlap: 3 });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
    await expectNoClaim(app, env, worker, [job]);
  });

  test('orders by job priority, then task priority, then deadline, then oldest task', async ({ app, env, seed, worker }) => {
    const soon = new Date(Date.now() + 3600_000);
    const later = new Date(Date.now() + 7200_000);
    const low = await seed.activeJob(1, { priority: 0 });
    const lateDeadline = await seed.activeJob(2, { priority: 5, deadline: later });
    const early = await seed.activeJob(2, { priority: 5, deadline: soon });
    await env.db.updateTable('tasks').set({ priority: 9 }).where('id', '=', lateDeadline.tasks[1]!.id).execute();
    const order = [];
    for (let i = 0; i < 5; i++) order.push((await claim(app, worker)).json().task_id);
    expect(order).toEqual([lateDeadline.tasks[1]!.id, early.tasks[0]!.id, early.tasks[1]!.id, lateDeadline.tasks[0]!.id, low.tasks[0]!.id]);
    await expectNoClaim(app, env, worker, [low, lateDeadline, early]);
  });

  test('stops a worker at the daily active-time limit until midnight in their time zone', async ({ app, env, seed }) => {
    // Start at 06:00 UTC (11:30 in Kolkata), so the ten minutes of work below never cross Kolkata's
    // midnight, which would reset the day's time; a CI run at 18:24 UTC once did.
    const sixUtc = new Date(env.clock.now());
    sixUtc.setUTCHours(6, 0, 0, 0);
    if (sixUtc <= env.clock.now()) sixUtc.setUTCDate(sixUtc.getUTCDate() + 1);
    env.clock.advance(sixUtc.getTime() - env.clock.now().getTime());
    const job = await seed.activeJob(3, { lease_seconds: 3600 });
    const { worker } = await seed.vendorWithWorker({ daily_active_limit_seconds: 600, timezone: 'Asia/Kolkata' });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    env.clock.advance(601_000);
    expect((await submit(app, worker, a.id)).statusCode).toBe(200);
    const res = await expectNoClaim(app, env, worker, [job], { status: 409, code: 'daily_limit_reached' });
    const resetsAt = new Date(res.json().error.details[0].resets_at);
    // Midnight in Kolkata is 18:30 UTC.
    expect(resetsAt.getUTCHours() * 60 + resetsAt.getUTCMinutes()).toBe(18 * 60 + 30);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    env.clock.advance(resetsAt.getTime() - env.clock.now().getTime() + 1000);
    await expectClaim(app, worker, job.tasks[1]!);
  });
});

describe('fair share across vendors', () => {
  test('takes a slot only within the weighted share among waiting vendors', () => {
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

  test('holds a fast vendor back while a competing vendor waits, and not after', async ({ app, env, seed }) => {
    const { tasks, ...job } = await seed.activeJob(12);
    const { vendor: fast, worker: f1 } = await seed.vendorWithWorker();
    const f2 = await seed.worker(fast);
    const { vendor: slow, worker: s1 } = await seed.vendorWithWorker();
    await expectClaim(app, s1, tasks[0]!);
    for (let i = 1; i <= 3; i++) await expectClaim(app, f1, tasks[i]!);
    for (let i = 4; i <= 5; i++) await expectClaim(app, f2, tasks[i]!);
    await markStarved(env.redis, env.prefix, slow.organizationId, env.clock.now());
    // fast holds 5 of the 6 recent assignments; with slow waiting, its half share (+2 slack) is used up.
    await expectNoClaim(app, env, f1, [job]);
    await expectClaim(app, s1, tasks[6]!);
    // Once slow stops waiting, fast may take everything again.
    env.clock.advance(11_000);
    await expectClaim(app, f2, tasks[7]!);
  });
});
