import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { EventName, EventPayload } from '@fairlabel/contracts';
import { Queue } from 'bullmq';
import { OutboxRelay, automaticJobId, publish, webhookDeliveriesSource } from '@fairlabel/queues';
import { expectError, integrationTest, type Actor } from '@fairlabel/testing';
import { webhookRoutes } from '../src/webhooks.routes.js';
import { startWebhookWorkers } from '../src/webhooks.consumer.js';
import { createDeliveryQueue } from '../src/webhooks.service.js';
import { messageIdFor } from '../src/webhook-signing.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Delivery {
  id: string;
  status: string;
  message_id: string;
  attempt_count: number;
  event_type: string;
  payload: unknown;
  attempts: { trigger: string; status_code: number | null; error: string | null; response_body: string | null; duration_ms: number; attempted_at: string }[];
}

const ATTEMPTS = 4;
/** The same schedule shape as production (exponential, one job per delivery), with millisecond delays. */
const SCHEDULE = { attempts: ATTEMPTS, backoffDelayMs: 40, jitter: 0 };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

const headersOf = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

let pathSeq = 0;

const test = integrationTest({ app: [{ name: 'webhooks', plugin: webhookRoutes }] })
  /**
   * A real HTTP receiver for the file. Every test registers endpoints on paths of its own, so what one
   * test's endpoints received is never another's; `behaviour` sets the status a path answers its n-th
   * request with (200 unless set).
   */
  .extend('receiver', { scope: 'file' }, async ({}, { onCleanup }) => {
    const received: Received[] = [];
    const behaviour = new Map<string, (n: number) => number>();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        const n = received.filter((r) => r.path === path).length;
        received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = behaviour.get(path)?.(n) ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `nope ${n}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return {
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      behaviour,
      at: (path: string) => received.filter((r) => r.path === path),
    };
  })
  /** The outbox relay and the service's webhook workers, running for the whole file. */
  .extend('pipeline', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
    await relay.start();
    const eventQueue = new Queue('webhooks', { connection: env.redis, prefix: env.prefix });
    const hooks = await startWebhookWorkers(env, { schedule: SCHEDULE, timeoutMs: 2000, progressIntervalMs: 0 });
    onCleanup(async () => {
      await Promise.all(hooks.workers.map((w) => w.close()));
      await hooks.stop?.();
      await relay.stop();
      await eventQueue.close();
    });
    return { eventQueue };
  })
  /** Publishes an event through the outbox (the pipeline delivers it); returns its row on the `webhooks` queue. */
  .extend('emit', async ({ env, pipeline }) => {
    expect(pipeline.eventQueue).toBeDefined();
    return async <E extends EventName>(event: E, payload: EventPayload<E>): Promise<number> => {
      const ids = await env.db.transaction().execute((trx) => publish(trx, event, payload));
      const row = await env.db.selectFrom('outbox').select('id').where('id', 'in', ids).where('queue', '=', 'webhooks').executeTakeFirstOrThrow();
      return row.id;
    };
  })
  /** Waits until the webhooks consumer has handled the event of this outbox row. */
  .extend('handled', async ({ env, pipeline }) => async (outboxId: number) => {
    await waitFor(`event ${outboxId} handled`, async () => {
      // The event travels in the batch job the relay recorded on its row.
      const row = await env.db.selectFrom('outbox').select('batch_id').where('id', '=', outboxId).executeTakeFirst();
      return row?.batch_id ? (await pipeline.eventQueue.getJob(row.batch_id))?.isCompleted() : false;
    });
  })
  /** Registers an endpoint of `actor` on a receiver path of its own. */
  .extend('registerEndpoint', async ({ app, receiver }) => async (actor: Actor, eventTypes: string[], path = `/hook-${++pathSeq}`) => {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: actor.auth, payload: { url: `${receiver.baseUrl}${path}`, event_types: eventTypes } });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json() as { id: string; secret: string };
    return { id: body.id, secret: body.secret, path };
  })
  .extend('deliveriesOf', async ({ app }) => async (actor: Actor, endpointId: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/webhooks/${endpointId}/deliveries`, headers: actor.auth });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: Delivery[] }).data;
  })
  /** A new client with a job of `n` tasks, the first of them decided by QA, and that decision's event. */
  .extend('decidedTask', async ({ env, seed }) => async (n = 3) => {
    const client = await seed.client();
    const { tasks, ...job } = await seed.activeJob(n, { owner: client });
    const task = tasks[0]!;
    await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify({ label: 'cat' }), agreement: 0.75, decided_at: new Date() }).where('id', '=', task.id).execute();
    const event = { task_id: task.id, job_id: job.id, client_id: client.organizationId, agreement: 0.75, accepted_assignment_ids: [], rejected_assignment_ids: [] };
    return { client, job, tasks, task, event };
  });

describe('webhook endpoints API', () => {
  test('registers an endpoint, shows its secret once, lists and deletes it', async ({ app, seed, receiver }) => {
    const client = await seed.client();
    const created = await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: client.auth,
      payload: { url: `${receiver.baseUrl}/listed`, event_types: ['job.completed', 'task.decided'], description: 'prod' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ url: `${receiver.baseUrl}/listed`, event_types: ['job.completed', 'task.decided'], description: 'prod', previous_secret_expires_at: null });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);

    const one = await app.inject({ method: 'GET', url: `/v1/webhooks/${body.id}`, headers: client.auth });
    expect(one.statusCode).toBe(200);
    expect(one.json().secret).toBeUndefined();
    const list = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: client.auth });
    expect(list.json().data.map((e: { id: string }) => e.id)).toEqual([body.id]);
    expect(list.json().data[0].secret).toBeUndefined();

    const del = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: client.auth });
    expect(del.statusCode).toBe(204);
    expectError(await app.inject({ method: 'GET', url: `/v1/webhooks/${body.id}`, headers: client.auth }), 404, 'not_found');
    expectError(await app.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: client.auth }), 404, 'not_found');
    expect((await app.inject({ method: 'GET', url: '/v1/webhooks', headers: client.auth })).json().data).toEqual([]);
  });

  test('refuses URLs that are not http(s), and event types the organization cannot have, with 4xx in the one error shape', async ({ app, env, client, vendor, receiver }) => {
    for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'not a url']) {
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url, event_types: ['job.completed'] } });
      expect(expectError(res, 400, 'bad_url').details[0]!.path, url).toBe('body.url');
    }
    const empty = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: '', event_types: ['job.completed'] } });
    expect(expectError(empty, 400, 'validation_failed').details[0]!.path).toBe('body.url');
    const unknownType = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: `${receiver.baseUrl}/x`, event_types: ['job.exploded'] } });
    expectError(unknownType, 400, 'validation_failed');
    const none = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: `${receiver.baseUrl}/x`, event_types: [] } });
    expectError(none, 400, 'validation_failed');

    const clientAssignments = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: `${receiver.baseUrl}/x`, event_types: ['assignment.submitted'] } });
    expectError(clientAssignments, 422, 'event_type_not_allowed');
    const vendorTasks = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: vendor.auth, payload: { url: `${receiver.baseUrl}/x`, event_types: ['task.decided'] } });
    expectError(vendorTasks, 422, 'event_type_not_allowed');
    const endpoints = await env.db.selectFrom('webhook_endpoints').select('id').where('organization_id', 'in', [client.organizationId, vendor.organizationId]).execute();
    expect(endpoints).toEqual([]);
  });

  test('answers 403 to worker, ops and admin keys', async ({ app, env, worker, ops, admin, receiver }) => {
    for (const actor of [worker, ops, admin]) {
      expectError(await app.inject({ method: 'GET', url: '/v1/webhooks', headers: actor.auth }), 403, 'forbidden');
      const create = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: actor.auth, payload: { url: `${receiver.baseUrl}/x`, event_types: ['job.completed'] } });
      expectError(create, 403, 'forbidden');
    }
    const endpoints = await env.db.selectFrom('webhook_endpoints').select('id').where('organization_id', 'in', [worker.organizationId, ops.organizationId]).execute();
    expect(endpoints).toEqual([]);
  });

  test("keeps tenants apart: another client's endpoint and deliveries are 404, its events never reach mine", async ({ app, seed, receiver, emit, registerEndpoint, deliveriesOf, decidedTask }) => {
    const a = await decidedTask();
    const b = await seed.client();
    const hookA = await registerEndpoint(a.client, ['task.decided']);
    const hookB = await registerEndpoint(b, ['task.decided']);
    await emit('task.decided', a.event);
    const [delivery] = await waitFor('delivery to A', async () => {
      const d = await deliveriesOf(a.client, hookA.id);
      return d[0]?.status === 'succeeded' ? d : undefined;
    });
    for (const [method, url] of [
      ['GET', `/v1/webhooks/${hookA.id}`],
      ['DELETE', `/v1/webhooks/${hookA.id}`],
      ['GET', `/v1/webhooks/${hookA.id}/deliveries`],
      ['POST', `/v1/webhooks/${hookA.id}/rotate-secret`],
      ['POST', `/v1/webhooks/${hookA.id}/deliveries/${delivery!.id}/redeliver`],
      // B's own endpoint with A's delivery id.
      ['POST', `/v1/webhooks/${hookB.id}/deliveries/${delivery!.id}/redeliver`],
    ] as const) {
      const res = await app.inject({ method, url, headers: b.auth, ...(method === 'POST' ? { payload: {} } : {}) });
      expectError(res, 404, 'not_found');
    }
    expect(await deliveriesOf(b, hookB.id)).toEqual([]);
    expect(receiver.at(hookB.path)).toEqual([]);
  });
});

describe('webhook delivery to a real HTTP receiver', () => {
  test('signs per Standard Webhooks: verifies with the standardwebhooks library, a tampered body or timestamp does not', async ({ receiver, emit, registerEndpoint, deliveriesOf, decidedTask }) => {
    const { client, job, task, event } = await decidedTask();
    const hook = await registerEndpoint(client, ['task.decided']);
    await emit('task.decided', event);
    const [msg] = await waitFor('the delivery', async () => (receiver.at(hook.path).length ? receiver.at(hook.path) : undefined));
    const headers = headersOf(msg!);
    expect(msg!.headers['content-type']).toBe('application/json');
    expect(headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);

    const verified = new Webhook(hook.secret).verify(msg!.body, headers) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(verified.type).toBe('task.decided');
    expect(verified.data).toEqual({ job_id: job.id, task_id: task.id, external_id: 'item-0', agreement: 0.75 });
    expect(new Date(verified.timestamp).toString()).not.toBe('Invalid Date');

    const tampered = msg!.body.replace('"agreement":0.75', '"agreement":0.99');
    expect(tampered).not.toBe(msg!.body);
    expect(() => new Webhook(hook.secret).verify(tampered, headers)).toThrow(/No matching signature/);
    const shifted = { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) };
    expect(() => new Webhook(hook.secret).verify(msg!.body, shifted)).toThrow(/No matching signature/);
    const otherSecret = (await registerEndpoint(client, ['job.completed'])).secret;
    expect(() => new Webhook(otherSecret).verify(msg!.body, headers)).toThrow();

    const [delivery] = await waitFor('recorded success', async () => {
      const d = await deliveriesOf(client, hook.id);
      return d[0]?.status === 'succeeded' ? d : undefined;
    });
    expect(delivery).toMatchObject({ event_type: 'task.decided', message_id: headers['webhook-id'], attempt_count: 1 });
    expect(delivery!.payload).toEqual(verified);
    expect(delivery!.attempts).toHaveLength(1);
    expect(delivery!.attempts[0]).toMatchObject({ trigger: 'automatic', status_code: 200, error: null, response_body: 'ok' });
  });

  test('a message signed more than 5 minutes ago does not verify', async ({ env, receiver, emit, registerEndpoint, decidedTask }) => {
    const { client, event } = await decidedTask();
    const hook = await registerEndpoint(client, ['task.decided']);
    // The delivery worker signs with the service clock; run it 6 minutes behind the receiver's.
    env.clock.advance(-6 * 60_000);
    try {
      await emit('task.decided', event);
      const [msg] = await waitFor('the delivery', async () => (receiver.at(hook.path).length ? receiver.at(hook.path) : undefined));
      const headers = headersOf(msg!);
      expect(Date.now() / 1000 - Number(headers['webhook-timestamp'])).toBeGreaterThan(5 * 60);
      expect(() => new Webhook(hook.secret).verify(msg!.body, headers)).toThrow(/too old/);
    } finally {
      env.clock.advance(6 * 60_000);
    }
  });

  test('retries with backoff: a receiver that fails twice gets the event once it succeeds, with the same webhook-id', async ({ receiver, emit, registerEndpoint, deliveriesOf, decidedTask }) => {
    const { client, event } = await decidedTask();
    const hook = await registerEndpoint(client, ['task.decided']);
    receiver.behaviour.set(hook.path, (n) => (n < 2 ? 500 : 200));
    await emit('task.decided', event);
    const [delivery] = await waitFor('success after retries', async () => {
      const d = await deliveriesOf(client, hook.id);
      return d[0]?.status === 'succeeded' ? d : undefined;
    });
    const msgs = receiver.at(hook.path);
    expect(msgs).toHaveLength(3);
    expect(new Set(msgs.map((m) => m.headers['webhook-id']))).toEqual(new Set([delivery!.message_id]));
    expect(new Set(msgs.map((m) => m.body)).size).toBe(1);
    expect(() => new Webhook(hook.secret).verify(msgs[2]!.body, headersOf(msgs[2]!))).not.toThrow();
    expect(delivery!.attempts.map((a) => a.status_code)).toEqual([500, 500, 200]);
    expect(delivery!.attempts.map((a) => a.error)).toEqual(['receiver answered HTTP 500', 'receiver answered HTTP 500', null]);
    expect(delivery!.attempts[0]!.response_body).toBe('nope 0');
    expect(delivery!.attempt_count).toBe(3);
    // Exponential: the second wait is at least the doubled first one (40 ms, then 80 ms).
    const times = delivery!.attempts.map((a) => new Date(a.attempted_at).getTime());
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(40);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(80);
  });

  test('a receiver that never succeeds shows every attempt, ends failed, and can be redelivered by hand', async ({ app, receiver, emit, registerEndpoint, deliveriesOf, decidedTask }) => {
    const { client, event } = await decidedTask();
    const hook = await registerEndpoint(client, ['task.decided']);
    receiver.behaviour.set(hook.path, () => 503);
    await emit('task.decided', event);
    const [failed] = await waitFor('the delivery to fail', async () => {
      const d = await deliveriesOf(client, hook.id);
      return d[0]?.status === 'failed' ? d : undefined;
    });
    expect(failed!.attempt_count).toBe(ATTEMPTS);
    expect(failed!.attempts).toHaveLength(ATTEMPTS);
    for (const a of failed!.attempts) {
      expect(a).toMatchObject({ trigger: 'automatic', status_code: 503, error: 'receiver answered HTTP 503' });
      expect(a.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect(receiver.at(hook.path)).toHaveLength(ATTEMPTS);

    // The receiver is fixed; the client sends the message again by hand.
    receiver.behaviour.set(hook.path, () => 200);
    const redeliver = await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${failed!.id}/redeliver`, headers: client.auth });
    expect(redeliver.statusCode, redeliver.body).toBe(202);
    const [done] = await waitFor('the manual redelivery', async () => {
      const d = await deliveriesOf(client, hook.id);
      return d[0]?.status === 'succeeded' ? d : undefined;
    });
    expect(done!.attempts).toHaveLength(ATTEMPTS + 1);
    expect(done!.attempts[ATTEMPTS]).toMatchObject({ trigger: 'manual', status_code: 200 });
    const msgs = receiver.at(hook.path);
    expect(msgs).toHaveLength(ATTEMPTS + 1);
    expect(msgs[ATTEMPTS]!.headers['webhook-id']).toBe(failed!.message_id);
    expect(() => new Webhook(hook.secret).verify(msgs[ATTEMPTS]!.body, headersOf(msgs[ATTEMPTS]!))).not.toThrow();
  });

  test('records refused connections as attempts without a status code', async ({ app, emit, deliveriesOf, decidedTask }) => {
    const { client, event } = await decidedTask();
    // A port nothing listens on: bind one, note it, close it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: client.auth, payload: { url: `http://127.0.0.1:${deadPort}/gone`, event_types: ['task.decided'] } });
    const hook = res.json() as { id: string };
    await emit('task.decided', event);
    const [failed] = await waitFor('the delivery to fail', async () => {
      const d = await deliveriesOf(client, hook.id);
      return d[0]?.status === 'failed' ? d : undefined;
    });
    expect(failed!.attempts).toHaveLength(ATTEMPTS);
    for (const a of failed!.attempts) expect(a).toMatchObject({ status_code: null, error: 'ECONNREFUSED' });
  });

  test('delivers a redelivered event once per endpoint', async ({ env, receiver, emit, handled, registerEndpoint, decidedTask }) => {
    const { client, event } = await decidedTask();
    const first = await registerEndpoint(client, ['task.decided']);
    const second = await registerEndpoint(client, ['task.decided', 'job.completed']);
    const unrelated = await registerEndpoint(client, ['job.completed']);
    // Two outbox rows for the same decision: the event queue sees it twice.
    const copies = [await emit('task.decided', event), await emit('task.decided', event)];
    for (const id of copies) await handled(id);
    await waitFor('both deliveries', async () => {
      const rows = await env.db.selectFrom('webhook_deliveries').select('status').where('source_key', '=', `task.decided:${event.task_id}`).execute();
      return rows.length === 2 && rows.every((r) => r.status === 'succeeded');
    });
    expect(receiver.at(first.path)).toHaveLength(1);
    expect(receiver.at(second.path)).toHaveLength(1);
    expect(receiver.at(unrelated.path)).toHaveLength(0);
    expect(receiver.at(first.path)[0]!.headers['webhook-id']).not.toBe(receiver.at(second.path)[0]!.headers['webhook-id']);
    const rows = await env.db.selectFrom('webhook_deliveries').select('id').where('source_key', '=', `task.decided:${event.task_id}`).execute();
    expect(rows).toHaveLength(2);
  });

  test('sends job.progress at each 10% step reached and job.completed with counts', async ({ env, seed, receiver, emit, handled, registerEndpoint }) => {
    const client = await seed.client();
    const job = await seed.job(client, { status: 'active' });
    const tasks = await seed.tasks(job.id, 10);
    const hook = await registerEndpoint(client, ['job.progress', 'job.completed']);
    const decide = async (i: number) => {
      await env.db.updateTable('tasks').set({ status: 'decided', result: JSON.stringify({ label: { choices: ['dog'] } }), agreement: 1, decided_at: new Date() }).where('id', '=', tasks[i]!.id).execute();
      await emit('task.decided', { task_id: tasks[i]!.id, job_id: job.id, client_id: client.organizationId, agreement: 1, accepted_assignment_ids: [], rejected_assignment_ids: [] });
    };
    await decide(0);
    await waitFor('10%', async () => receiver.at(hook.path).length === 1);
    // Four more decisions land before their events are handled: one message for the step reached.
    for (const i of [1, 2, 3, 4]) await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', tasks[i]!.id).execute();
    await decide(4);
    await waitFor('50%', async () => receiver.at(hook.path).length === 2);
    const bodies = receiver.at(hook.path).map((m) => JSON.parse(m.body) as { type: string; data: Record<string, unknown> });
    expect(bodies.map((b) => b.type)).toEqual(['job.progress', 'job.progress']);
    expect(bodies[0]!.data).toEqual({ job_id: job.id, tasks_total: 10, tasks_decided: 1, percent: 10 });
    expect(bodies[1]!.data).toEqual({ job_id: job.id, tasks_total: 10, tasks_decided: 5, percent: 50 });
    // The same step again (another task.decided event of a task already counted) sends nothing new.
    await handled(await emit('task.decided', { task_id: tasks[3]!.id, job_id: job.id, client_id: client.organizationId, agreement: 1, accepted_assignment_ids: [], rejected_assignment_ids: [] }));

    for (const t of tasks.slice(5)) await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', t.id).execute();
    await env.db.updateTable('jobs').set({ status: 'completed', completed_at: new Date() }).where('id', '=', job.id).execute();
    await emit('job.completed', { job_id: job.id, client_id: client.organizationId });
    const completed = await waitFor('job.completed', async () => receiver.at(hook.path).find((m) => JSON.parse(m.body).type === 'job.completed'));
    expect(JSON.parse(completed.body).data).toEqual({ job_id: job.id, tasks_total: 10, tasks_decided: 10 });
    expect(receiver.at(hook.path).filter((m) => JSON.parse(m.body).type === 'job.progress')).toHaveLength(2);
    expect(() => new Webhook(hook.secret).verify(completed.body, headersOf(completed))).not.toThrow();
  });

  test("delivers a vendor's own workers' assignment events to the vendor only", async ({ seed, receiver, emit, handled, registerEndpoint, decidedTask }) => {
    const vendor = await seed.vendor();
    const otherVendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const { job, task } = await decidedTask();
    const hook = await registerEndpoint(vendor, ['assignment.submitted', 'assignment.released']);
    const otherHook = await registerEndpoint(otherVendor, ['assignment.submitted', 'assignment.released']);
    const ref = { assignment_id: 9001, task_id: task.id, job_id: job.id, worker_id: worker.workerId, vendor_id: vendor.organizationId };
    const events = [
      await emit('assignment.submitted', ref),
      await emit('assignment.expired', ref),
      await emit('assignment.released', { ...ref, assignment_id: 9002, reason: 'worker_skipped' }),
    ];
    for (const id of events) await handled(id);
    await waitFor('two vendor deliveries', async () => receiver.at(hook.path).length === 2);
    const bodies = receiver.at(hook.path).map((m) => new Webhook(hook.secret).verify(m.body, headersOf(m)) as { type: string; data: unknown });
    expect(bodies.map((b) => b.type).sort()).toEqual(['assignment.released', 'assignment.submitted']);
    expect(bodies.find((b) => b.type === 'assignment.submitted')!.data).toEqual({ assignment_id: 9001, task_id: task.id, job_id: job.id, worker_id: worker.workerId });
    expect(bodies.find((b) => b.type === 'assignment.released')!.data).toMatchObject({ assignment_id: 9002, reason: 'worker_skipped' });
    expect(receiver.at(otherHook.path)).toEqual([]);
  });

  test('rotates the secret: during the grace period both secrets verify, without one only the new one', async ({ app, env, receiver, emit, registerEndpoint, decidedTask }) => {
    const { client, tasks, job } = await decidedTask(3);
    const hook = await registerEndpoint(client, ['task.decided']);
    const rotate = async (grace: number) => {
      const res = await app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret`, headers: client.auth, payload: { grace_period_seconds: grace } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { secret: string; previous_secret_expires_at: string | null };
    };
    const send = async (i: number) => {
      await env.db.updateTable('tasks').set({ status: 'decided', decided_at: new Date() }).where('id', '=', tasks[i]!.id).execute();
      await emit('task.decided', { task_id: tasks[i]!.id, job_id: job.id, client_id: client.organizationId, agreement: null, accepted_assignment_ids: [], rejected_assignment_ids: [] });
      const msg = await waitFor(`message ${i}`, async () => receiver.at(hook.path).find((m) => JSON.parse(m.body).data.task_id === tasks[i]!.id));
      return msg;
    };

    const second = await rotate(3600);
    expect(second.secret).not.toBe(hook.secret);
    expect(new Date(second.previous_secret_expires_at!).getTime()).toBeGreaterThan(Date.now() + 3500_000);
    const during = await send(1);
    expect(headersOf(during)['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(hook.secret).verify(during.body, headersOf(during))).not.toThrow();
    expect(() => new Webhook(second.secret).verify(during.body, headersOf(during))).not.toThrow();

    const third = await rotate(0);
    expect(third.previous_secret_expires_at).toBeNull();
    const after = await send(2);
    expect(headersOf(after)['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new Webhook(third.secret).verify(after.body, headersOf(after))).not.toThrow();
    expect(() => new Webhook(second.secret).verify(after.body, headersOf(after))).toThrow();
  });

  test('stops delivering to a deleted endpoint', async ({ app, env, receiver, emit, handled, registerEndpoint, decidedTask }) => {
    const { client, event } = await decidedTask();
    const hook = await registerEndpoint(client, ['task.decided']);
    const kept = await registerEndpoint(client, ['task.decided']);
    expect((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}`, headers: client.auth })).statusCode).toBe(204);
    await handled(await emit('task.decided', event));
    // Handling the event created every delivery it will ever have: one, to the kept endpoint.
    const deliveries = await env.db.selectFrom('webhook_deliveries').select('endpoint_id').where('source_key', '=', `task.decided:${event.task_id}`).execute();
    expect(deliveries.map((d) => d.endpoint_id)).toEqual([kept.id]);
    await waitFor('the kept endpoint', async () => receiver.at(kept.path).length === 1);
    expect(receiver.at(hook.path)).toEqual([]);
  });

  test('the reconciler re-adds from Postgres a pending delivery whose queue job was lost, and leaves one still queued alone', async ({ env, seed, receiver, registerEndpoint, deliveriesOf }) => {
    const client = await seed.client();
    const hook = await registerEndpoint(client, ['job.completed']);
    const body = JSON.stringify({ type: 'job.completed', timestamp: new Date().toISOString(), data: { job_id: '6f1c1d3e-8a52-4a41-9b7e-3d8c2f0a1b2c' } });
    const row = (id: string, key: string) => ({ id, endpoint_id: hook.id, organization_id: client.organizationId, event_type: 'job.completed', source_key: key, message_id: messageIdFor(id), body });
    // As if Redis lost the job: the row is pending, nothing is queued.
    const lost = '6f1c1d3e-8a52-4a41-9b7e-3d8c2f0a1b2c';
    // Still queued, but delayed far into the future (its next attempt): must not be duplicated or hurried.
    const queued = '7a2d2e4f-9b63-4b52-8c8f-4e9d3f1b2c3d';
    await env.db.insertInto('webhook_deliveries').values([row(lost, 'job.completed:lost'), row(queued, 'job.completed:queued')]).execute();
    const queue = createDeliveryQueue(env.redis, env.prefix);
    const source = webhookDeliveriesSource({ redis: env.redis, prefix: env.prefix, schedule: SCHEDULE });
    try {
      await queue.add('automatic', { delivery_id: queued }, { jobId: automaticJobId(queued), delay: 3_600_000 });
      expect(await source.repair({ db: env.db, redis: env.redis, prefix: env.prefix, logger: env.logger, now: new Date() })).toBe(1);
      const msg = await waitFor('the recovered delivery', async () => receiver.at(hook.path)[0]);
      expect(msg.headers['webhook-id']).toBe(messageIdFor(lost));
      expect(() => new Webhook(hook.secret).verify(msg.body, headersOf(msg))).not.toThrow();
      await waitFor('recorded success', async () => (await deliveriesOf(client, hook.id)).find((d) => d.id === lost && d.status === 'succeeded'));
      // A second pass finds nothing missing: the queued one is still there, the lost one is delivered.
      expect(await source.repair({ db: env.db, redis: env.redis, prefix: env.prefix, logger: env.logger, now: new Date() })).toBe(0);
      expect(await (await queue.getJob(automaticJobId(queued)))?.isDelayed()).toBe(true);
      expect(receiver.at(hook.path)).toHaveLength(1);
    } finally {
      await source.close?.();
      await queue.close();
    }
  });
});
