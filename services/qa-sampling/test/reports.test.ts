import { describe, expect } from 'vitest';
import { expectError, integrationTest } from '@fairlabel/testing';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { qaSamplingRoutes } from '../src/index.js';
import { goldTasks, pick, submit } from './helpers.js';

// QA's reports over HTTP, and their tenancy: a client's own jobs, a vendor's own workers, a worker itself.

const test = integrationTest({ app: [qaSamplingRoutes] });

describe('quality reports', () => {
  test('a job\'s QA report: agreement distribution, gold by worker and vendor, extra overlap, estimated accuracy; other tenants get 404/403', async ({ app, env, seed, client, vendor, worker }) => {
    const job = await seed.activeJob(2, { owner: client, overlap: 2, required_skill: 'tagging', qa_policy: JSON.stringify({ min_agreement: 0.9, max_overlap: 3 }) });
    const gold = await goldTasks(env.db, job.id, 2, () => pick('cat'));
    const w2 = await seed.worker(vendor, { skills: { tagging: 1 } });
    const w3 = await seed.worker(vendor, { skills: { tagging: 1 } });
    await env.db.insertInto('worker_skills').values({ worker_id: worker.workerId, skill: 'tagging', level: 2, source: 'vendor' }).execute();
    await decideSubmissions(env.db, await submit(env.db, seed, gold, [worker, w2], (t, w) => pick(w === 0 || t.id === gold[0]!.id ? 'cat' : 'dog'), { timeSpentMs: 5000 }), new Date());
    // Task 0: two agree. Task 1: split, asks for a third, which decides it.
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks, [worker, w2], (t, w) => pick(t.id === job.tasks[1]!.id && w === 1 ? 'dog' : 'cat'), { timeSpentMs: 5000 }), new Date());
    await decideSubmissions(env.db, await submit(env.db, seed, job.tasks.slice(1), [w3], () => pick('cat'), { timeSpentMs: 5000 }), new Date());

    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/qa`, headers: client.auth });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json();
    expect(r.tasks).toEqual({ decided: 2, waiting: 0 });
    expect(r.agreement.distribution.map((b: { tasks: number }) => b.tasks)).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
    expect(r.decisions).toEqual({ accepted: 4, rejected: 1, gold_accepted: 3, gold_rejected: 1 });
    expect(r.gold.by_worker.map((g: { worker_id: string; gold_total: number; gold_correct: number }) => [g.worker_id, g.gold_total, g.gold_correct]).sort()).toEqual(
      [[worker.workerId, 2, 2], [w2.workerId, 2, 1]].sort(),
    );
    expect(r.gold.by_vendor).toEqual([{ vendor_id: vendor.organizationId, gold_total: 4, gold_correct: 3, accuracy: expect.any(Number) }]);
    expect(r.overlap).toEqual({ extra_annotations: 1, tasks_with_extra: 1, requests: 1 });
    expect(r.automation).toEqual({ automated_tasks: 0, share: 0 });
    expect(r.estimated_accuracy).toBeGreaterThan(0.6);

    const other = await seed.client();
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/qa`, headers: other.auth }), 404, 'not_found');
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/qa`, headers: vendor.auth }), 403, 'forbidden');
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/not-a-uuid/qa`, headers: client.auth }), 400, 'validation_failed');
    const ops = await seed.platformKey('ops');
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/qa`, headers: ops.auth })).statusCode).toBe(200);

    // A vendor reads its own worker's quality, with the evidence; another vendor cannot.
    const wq = await app.inject({ method: 'GET', url: `/v1/workers/${w2.workerId}/quality`, headers: vendor.auth });
    expect(wq.statusCode, wq.body).toBe(200);
    const q = wq.json();
    expect(q.skills.map((s: { skill: string; gold_total: number; gold_correct: number; level: number }) => [s.skill, s.gold_total, s.gold_correct, s.level])).toEqual([['tagging', 2, 1, 1]]);
    expect(q.decisions).toEqual({ accepted: 2, rejected: 2 });
    expect(q.recent_gold.map((g: { passed: boolean }) => g.passed).sort()).toEqual([false, true]);
    const otherVendor = await seed.vendor();
    expectError(await app.inject({ method: 'GET', url: `/v1/workers/${w2.workerId}/quality`, headers: otherVendor.auth }), 404, 'not_found');
    expectError(await app.inject({ method: 'GET', url: `/v1/workers/${w2.workerId}/quality`, headers: client.auth }), 403, 'forbidden');
    expectError(await app.inject({ method: 'GET', url: `/v1/workers/${w2.workerId}/quality`, headers: worker.auth }), 403, 'forbidden');

    // A worker reads its own.
    const me = await app.inject({ method: 'GET', url: '/v1/me/quality', headers: worker.auth });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json().worker_id).toBe(worker.workerId);
    expect(me.json().skills.map((s: { gold_total: number; gold_correct: number }) => [s.gold_total, s.gold_correct])).toEqual([[2, 2]]);
    expectError(await app.inject({ method: 'GET', url: '/v1/me/quality', headers: vendor.auth }), 403, 'forbidden');
  });
});
