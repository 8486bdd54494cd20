import { describe, expect } from 'vitest';
import type { TestEnv } from '@fairlabel/testing';
import { expireStaleLeases } from '../src/leases.service.js';
import { expectClaim, expectNoClaim, test } from './helpers.js';

// The metrics an operator alerts on that worker-assignment's work feeds: claim latency (in the gateway,
// where claims are served) and lease expiries (in the process that runs the expiry scheduler).
async function value(env: TestEnv, name: string, labels: Record<string, string> = {}) {
  const metric = await env.metrics.registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

describe('worker-assignment metrics', () => {
  test('times every claim attempt by how it ended, and counts the leases the scheduler expires', async ({ app, env, seed }) => {
    const job = await seed.activeJob(1, { lease_seconds: 60 });
    const { worker } = await seed.vendorWithWorker();
    const { worker: other } = await seed.vendorWithWorker();
    await expectClaim(app, worker, job.tasks[0]!);
    await expectNoClaim(app, env, other, [job]);
    expect(await value(env, 'fairlabel_claim_duration_seconds', { via: 'worker', outcome: 'claimed' })).toBeGreaterThan(0);
    const registry = await env.metrics.registry.getMetricsAsJSON();
    const histogram = registry.find((m) => m.name === 'fairlabel_claim_duration_seconds')!;
    const count = (outcome: string) => histogram.values.find((v) => (v as { metricName?: string }).metricName === 'fairlabel_claim_duration_seconds_count' && v.labels.outcome === outcome)?.value;
    expect(count('claimed')).toBe(1);
    expect(count('none')).toBe(1);

    const before = await value(env, 'fairlabel_lease_expiries_total');
    env.clock.advance(61_000);
    expect(await expireStaleLeases(env)).toBe(1);
    expect(await value(env, 'fairlabel_lease_expiries_total')).toBe(before + 1);
  });
});
