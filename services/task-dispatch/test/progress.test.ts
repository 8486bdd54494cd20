import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { jobAndImportRoutes } from './helpers.js';

let env: TestEnv;
let app: AppInstance;
let client: Actor;

beforeAll(async () => {
  env = await createTestEnv();
  app = await buildTestApp(env, [jobAndImportRoutes]);
  client = await newClient(env.db);
});
afterAll(async () => {
  await app.close();
  await env.close();
});

const HOUR = 3_600_000;

describe('GET /v1/jobs/:id/progress', () => {
  it('a job without work: zeros, no agreement, no rate, no ETA', async () => {
    const job = await newJob(env.db, client.organizationId);
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: client.auth });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      job_id: job.id,
      status: 'draft',
      tasks: { total: 0, open: 0, decided: 0, cancelled: 0 },
      assignments: { leased: 0, submitted: 0, accepted: 0, rejected: 0 },
      agreement: null,
      cost: { currency: 'USD', client_charges: 0, worker_pay: 0 },
      rate_per_hour: null,
      eta: null,
    });
  });

  it('counts tasks and assignments, averages agreement, prices the work and extrapolates the recent rate', async () => {
    const job = await newJob(env.db, client.organizationId, { status: 'active', overlap: 2, pay_per_annotation: 7, client_price_per_item: 30 });
    const tasks = await newTasks(env.db, job.id, 10);
    const now = env.clock.now();
    // Four decisions over the last two hours: 2 per hour.
    const decided = tasks.slice(0, 4);
    for (const [i, t] of decided.entries()) {
      await env.db
        .updateTable('tasks')
        .set({ status: 'decided', agreement: i % 2 ? 1 : 0.5, decided_at: new Date(now.getTime() - (2 * HOUR * (i + 1)) / 4) })
        .where('id', '=', t.id)
        .execute();
    }
    await env.db.updateTable('tasks').set({ status: 'cancelled' }).where('id', '=', tasks[4]!.id).execute();
    const vendor = await newVendor(env.db);
    const workers = [await newWorker(env.db, vendor.organizationId), await newWorker(env.db, vendor.organizationId)];
    const statuses = ['accepted', 'accepted', 'accepted', 'rejected', 'submitted', 'leased'] as const;
    for (const [i, status] of statuses.entries()) {
      await env.db
        .insertInto('assignments')
        .values({ task_id: tasks[Math.floor(i / 2)]!.id, job_id: job.id, worker_id: workers[i % 2]!.workerId, vendor_id: vendor.organizationId, status, lease_expires_at: new Date(now.getTime() + HOUR) })
        .execute();
    }
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: client.auth });
    const body = res.json();
    expect(body).toMatchObject({
      status: 'active',
      tasks: { total: 10, open: 5, decided: 4, cancelled: 1 },
      assignments: { leased: 1, submitted: 1, accepted: 3, rejected: 1 },
      agreement: 0.75,
      cost: { currency: 'USD', client_charges: 4 * 30, worker_pay: 3 * 7 },
    });
    expect(body.rate_per_hour).toBeCloseTo(2, 1);
    // Five open items at two an hour: two and a half hours from now.
    expect(new Date(body.eta).getTime() - now.getTime()).toBeGreaterThan(2.4 * HOUR);
    expect(new Date(body.eta).getTime() - now.getTime()).toBeLessThan(2.6 * HOUR);
  });

  it("another client's job is a 404, a vendor key a 403", async () => {
    const job = await newJob(env.db, client.organizationId);
    const other = await newClient(env.db);
    const vendor = await newVendor(env.db);
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: other.auth })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: vendor.auth })).statusCode).toBe(403);
  });
});
