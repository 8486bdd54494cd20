import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { workerAssignmentRoutes } from '../src/index.js';
import { expireStaleLeases } from '../src/leases.service.js';
import { activeJob, claim, vendorWithWorker } from './helpers.js';

// The metrics an operator alerts on that worker-assignment's work feeds: claim latency (in the gateway,
// where claims are served) and lease expiries (in the process that runs the expiry scheduler).
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

async function value(name: string, labels: Record<string, string> = {}) {
  const metric = await env.metrics.registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

describe('worker-assignment metrics', () => {
  it('times every claim attempt by how it ended, and counts the leases the scheduler expires', async () => {
    await activeJob(env, 1, { lease_seconds: 60 });
    const { worker } = await vendorWithWorker(env);
    const { worker: other } = await vendorWithWorker(env);
    const claimed = (await claim(app, worker)).json();
    expect(claimed.id).toEqual(expect.any(Number));
    expect((await claim(app, other)).statusCode).toBe(204);
    expect(await value('fairlabel_claim_duration_seconds', { via: 'worker', outcome: 'claimed' })).toBeGreaterThan(0);
    const registry = await env.metrics.registry.getMetricsAsJSON();
    const histogram = registry.find((m) => m.name === 'fairlabel_claim_duration_seconds')!;
    const count = (outcome: string) => histogram.values.find((v) => (v as { metricName?: string }).metricName === 'fairlabel_claim_duration_seconds_count' && v.labels.outcome === outcome)?.value;
    expect(count('claimed')).toBe(1);
    expect(count('none')).toBe(1);

    const before = await value('fairlabel_lease_expiries_total');
    env.clock.advance(61_000);
    expect(await expireStaleLeases(env)).toBe(1);
    expect(await value('fairlabel_lease_expiries_total')).toBe(before + 1);
  });
});
