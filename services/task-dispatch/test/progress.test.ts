import { describe, expect } from 'vitest';
import { expectError, integrationTest } from '@fairlabel/testing';
import { jobAndImportRoutes } from './helpers.js';

const test = integrationTest({ app: [jobAndImportRoutes] });

const HOUR = 3_600_000;

describe('GET /v1/jobs/:id/progress', () => {
  test('a job without work: zeros, no agreement, no rate, no ETA', async ({ app, seed, client }) => {
    const job = await seed.job(client);
    const res = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: client.auth });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      job_id: job.id,
      status: 'draft',
      tasks: { total: 0, open: 0, decided: 0, cancelled: 0 },
      assignments: { leased: 0, submitted: 0, accepted: 0, rejected: 0 },
      agreement: null,
      cost: { currency: 'USD', client_charges: '0', worker_pay: '0' },
      rate_per_hour: null,
      eta: null,
    });
  });

  test('counts tasks and assignments, averages agreement, prices the work and extrapolates the recent rate', async ({ app, env, seed, client }) => {
    const job = await seed.job(client, { status: 'active', overlap: 2, pay_per_annotation: 7, client_price_per_item: 30 });
    const tasks = await seed.tasks(job.id, 10);
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
    const vendor = await seed.vendor();
    const workers = [await seed.worker(vendor), await seed.worker(vendor)];
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
      cost: { currency: 'USD', client_charges: String(4 * 30), worker_pay: String(3 * 7) },
    });
    expect(body.rate_per_hour).toBeCloseTo(2, 1);
    // Five open items at two an hour: two and a half hours from now.
    expect(new Date(body.eta).getTime() - now.getTime()).toBeGreaterThan(2.4 * HOUR);
    expect(new Date(body.eta).getTime() - now.getTime()).toBeLessThan(2.6 * HOUR);
  });

  test("another client's job is a 404, a vendor key a 403", async ({ app, seed, client, vendor }) => {
    const job = await seed.job(client);
    const other = await seed.client();
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: other.auth }), 404, 'not_found');
    expectError(await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/progress`, headers: vendor.auth }), 403, 'forbidden');
  });
});
