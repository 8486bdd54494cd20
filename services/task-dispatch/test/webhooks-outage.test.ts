import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { integrationTest } from '@fairlabel/testing';
import { startWebhookWorkers } from '../src/webhooks.consumer.js';
import { automaticJobId, createDeliveryQueue, enqueueDeliveries, fanOut } from '../src/webhooks.service.js';
import { webhookRoutes } from '../src/webhooks.routes.js';
import { someRoutes } from './helpers.js';

// Deliveries whose worker loses our own database (a TCP proxy in front of Postgres, cut by the test):
// the outage must not count as an attempt, nor be recorded as the receiver's failure, nor push the
// next try minutes away.
const test = integrationTest({ app: [someRoutes('webhooks', webhookRoutes)] })
  /** The webhook workers, reaching Postgres through the proxy. */
  .extend('hooks', { scope: 'file' }, async ({ proxiedEnv }, { onCleanup }) => {
    // Two attempts with a 60 s backoff: an outage that cost an attempt would leave one try a minute away.
    const hooks = await startWebhookWorkers(proxiedEnv, { schedule: { attempts: 2, backoffDelayMs: 60_000, jitter: 0 }, timeoutMs: 2000, progressIntervalMs: 0 });
    onCleanup(async () => {
      await Promise.all(hooks.workers.map((w) => w.close()));
      await hooks.stop?.();
    });
    return hooks;
  })
  /** A receiver that answers 204 and counts what it received. */
  .extend('receiver', { scope: 'file' }, async ({}, { onCleanup }) => {
    const counter = { received: 0, baseUrl: '' };
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        counter.received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    counter.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return counter;
  });

async function until<T>(what: string, check: () => Promise<T | false | undefined | null>, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a webhook delivery during our own database outage', () => {
  test('is retried within seconds without spending an attempt or blaming the receiver, and delivered once the database is back', async ({ app, env, client, proxy, hooks, receiver }) => {
    expect(hooks.workers.length).toBeGreaterThan(0);
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: `${receiver.baseUrl}/hook`, event_types: ['job.completed'] } });
    expect(res.statusCode).toBe(201);
    const [deliveryId] = await fanOut(env.db, {
      type: 'job.completed',
      organizationId: client.organizationId,
      sourceKey: 'job.completed:outage',
      occurredAt: new Date(),
      data: { job_id: '6f1c1d3e-8a52-4a41-9b7e-3d8c2f0a1b2c' },
    });
    const queue = createDeliveryQueue(env.redis, env.prefix);
    try {
      await proxy.cut();
      await enqueueDeliveries(queue, [deliveryId!], { attempts: 2, backoffDelayMs: 60_000, jitter: 0 });
      // The worker took the job at least twice while the database was away...
      const during = await until('tried twice', async () => {
        const job = await queue.getJob(automaticJobId(deliveryId!));
        return job && job.attemptsStarted >= 2 ? job : null;
      });
      // ...and neither try counted.
      expect(during.attemptsMade).toBe(0);
      expect(receiver.received).toBe(0);
      await proxy.restore();
      const row = await until('delivered', async () => {
        const r = await env.db.selectFrom('webhook_deliveries').select(['status', 'attempt_count']).where('id', '=', deliveryId!).executeTakeFirstOrThrow();
        return r.status === 'succeeded' ? r : null;
      });
      expect(row.attempt_count).toBe(1);
      expect(receiver.received).toBe(1);
      const attempts = await env.db.selectFrom('webhook_delivery_attempts').select(['status_code', 'error']).where('delivery_id', '=', deliveryId!).execute();
      expect(attempts).toEqual([{ status_code: 204, error: null }]);
    } finally {
      await queue.close();
    }
  }, 60_000);
});
