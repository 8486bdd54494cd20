import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, createTestEnv, labelConfigs, newWorker, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { Queue } from 'bullmq';
import { workerAssignmentRoutes } from '../src/index.js';
import { expireStaleLeases } from '../src/leases.service.js';
import { createLeaseExpiryWorker, LEASE_EXPIRY_QUEUE } from '../src/lease-expiry.scheduler.js';
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

const post = (url: string, who: { auth: { authorization: string } }, payload?: Record<string, unknown>) =>
  payload === undefined ? app.inject({ method: 'POST', url, headers: who.auth }) : app.inject({ method: 'POST', url, headers: who.auth, payload });

describe('leases', () => {
  it('extends a lease on heartbeat by the job lease time times the worker lease factor', async () => {
    await activeJob(env, 1, { lease_seconds: 100 });
    const { worker } = await vendorWithWorker(env, { accommodations: JSON.stringify({ lease_factor: 1.5 }) });
    const a = (await claim(app, worker)).json();
    expect(new Date(a.lease_expires_at).getTime() - new Date(a.leased_at).getTime()).toBe(150_000);
    env.clock.advance(100_000);
    const hb = await post(`/v1/assignments/${a.id}/heartbeat`, worker);
    expect(hb.statusCode, hb.body).toBe(200);
    expect(new Date(hb.json().lease_expires_at).getTime() - env.clock.now().getTime()).toBeGreaterThan(149_000);
  });

  it('is 404 for anyone but the holder', async () => {
    await activeJob(env, 1);
    const { vendor, worker } = await vendorWithWorker(env);
    const colleague = await newWorker(env.db, vendor.organizationId);
    const { worker: stranger } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    for (const other of [colleague, stranger]) {
      expect((await post(`/v1/assignments/${a.id}/heartbeat`, other)).statusCode).toBe(404);
      expect((await post(`/v1/assignments/${a.id}/release`, other, { reason: 'skip' })).statusCode).toBe(404);
      expect((await submit(app, other, a.id)).statusCode).toBe(404);
    }
    // Only worker keys work these endpoints; a vendor cannot act in its worker's place.
    expect((await post(`/v1/assignments/${a.id}/heartbeat`, vendor)).statusCode).toBe(403);
  });

  it('refuses submit and heartbeat after expiry with 409 lease_expired, and expiry returns the slot', async () => {
    const { tasks } = await activeJob(env, 1, { lease_seconds: 60 });
    const { vendor, worker } = await vendorWithWorker(env);
    const next = await newWorker(env.db, vendor.organizationId);
    const a = (await claim(app, worker)).json();
    expect((await claim(app, next)).statusCode).toBe(204);
    env.clock.advance(61_000);
    const late = await submit(app, worker, a.id);
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe('lease_expired');
    expect((await post(`/v1/assignments/${a.id}/heartbeat`, worker)).json().error.code).toBe('lease_expired');

    expect(await expireStaleLeases(env)).toBe(1);
    const row = await env.db.selectFrom('assignments').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('expired');
    const events = await env.db.selectFrom('outbox').select(['event', 'payload']).where('event', '=', 'assignment.expired').execute();
    expect(events.map((e) => (e.payload as { assignment_id: number }).assignment_id)).toContain(a.id);
    expect((await claim(app, next)).json().task_id).toBe(tasks[0]!.id);
    expect((await submit(app, worker, a.id)).json().error.code).toBe('lease_expired');
  });

  it('release frees the slot at once, records the reason and publishes assignment.released', async () => {
    const { tasks } = await activeJob(env, 1);
    const { vendor, worker } = await vendorWithWorker(env);
    const next = await newWorker(env.db, vendor.organizationId);
    const a = (await claim(app, worker)).json();
    const rel = await post(`/v1/assignments/${a.id}/release`, worker, { reason: 'offensive_content', note: 'graphic' });
    expect(rel.statusCode, rel.body).toBe(200);
    expect(rel.json().status).toBe('released');
    expect((await claim(app, next)).json().task_id).toBe(tasks[0]!.id);
    expect((await post(`/v1/assignments/${a.id}/release`, worker, { reason: 'skip' })).json().error.code).toBe('lease_not_active');
    // The releasing worker does not get the item again.
    expect((await claim(app, worker)).statusCode).toBe(204);
    const ev = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.released').execute();
    expect(ev.some((e) => (e.payload as { assignment_id: number; reason: string }).assignment_id === a.id)).toBe(true);
  });

  it('a long poll is woken when a slot is released', async () => {
    await activeJob(env, 1);
    const { vendor, worker } = await vendorWithWorker(env);
    const waiter = await newWorker(env.db, vendor.organizationId);
    const a = (await claim(app, worker)).json();
    const started = Date.now();
    const waiting = claim(app, waiter, '?wait=20');
    await new Promise((r) => setTimeout(r, 300));
    await post(`/v1/assignments/${a.id}/release`, worker, { reason: 'skip' });
    const res = await waiting;
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the scheduler on two workers expires each lease exactly once', async () => {
    // Earlier tests' leases would expire in the same ticks; take them out of the count.
    await env.db.updateTable('assignments').set({ status: 'released' }).where('status', '=', 'leased').execute();
    await activeJob(env, 40, { lease_seconds: 30 });
    const workers: Awaited<ReturnType<typeof newWorker>>[] = [];
    const { vendor } = await vendorWithWorker(env);
    for (let i = 0; i < 40; i++) workers.push(await newWorker(env.db, vendor.organizationId));
    const claimed: number[] = [];
    for (const w of workers) claimed.push((await claim(app, w)).json().id);
    env.clock.advance(31_000);

    const connA = env.redis.duplicate({ maxRetriesPerRequest: null });
    const connB = env.redis.duplicate({ maxRetriesPerRequest: null });
    const queue = new Queue(LEASE_EXPIRY_QUEUE, { connection: env.redis.duplicate({ maxRetriesPerRequest: null }), prefix: env.prefix });
    const a = createLeaseExpiryWorker(env, connA);
    const b = createLeaseExpiryWorker(env, connB);
    try {
      const results: number[] = [];
      const done = new Promise<void>((resolve) => {
        const onDone = (_job: unknown, r: { expired: number }) => {
          results.push(r.expired);
          if (results.length === 4) resolve();
        };
        a.on('completed', onDone);
        b.on('completed', onDone);
      });
      // Four ticks at once, as overlapping schedules on two replicas would produce.
      await Promise.all([1, 2, 3, 4].map((i) => queue.add('expire', {}, { jobId: `tick-${i}` })));
      await done;
      expect(results.reduce((s, n) => s + n, 0)).toBe(40);
      // One outbox row per subscribing queue, and per queue exactly one per lease.
      const outbox = await env.db.selectFrom('outbox').select(['payload', 'queue']).where('event', '=', 'assignment.expired').where('queue', '=', 'worker-assignment').execute();
      const ids = outbox.map((e) => (e.payload as { assignment_id: number }).assignment_id).filter((id) => claimed.includes(id));
      expect(ids.sort()).toEqual([...claimed].sort());
    } finally {
      await Promise.all([a.close(), b.close(), queue.close()]);
      connA.disconnect();
      connB.disconnect();
    }
  });
});

describe('submit', () => {
  it('validates the answer against the label config and names the failing field', async () => {
    await activeJob(env, 1, { task_type: 'bounding_boxes', label_config: JSON.stringify(labelConfigs.bounding_boxes) });
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    const bad = await submit(app, worker, a.id, { label: { boxes: [{ labels: ['tree'], x: 0, y: 0, width: 5, height: 5 }] } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('invalid_answer');
    expect(bad.json().error.details[0].path).toBe('body.answer.label.boxes.0.labels.0');
    expect((await submit(app, worker, a.id, { label: { boxes: [{ labels: ['car'], x: 0, y: 0, width: 5, height: 5 }] } })).statusCode).toBe(200);
  });

  it('checks an answer Postgres cannot store (\\u0000) in the usual order: 404 for another worker, 422 when invalid', async () => {
    await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const { worker: other } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    expect((await submit(app, other, a.id, { label: { choices: ['c\u0000t'] } })).statusCode).toBe(404);
    const bad = await submit(app, worker, a.id, { label: { choices: ['c\u0000t'] } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.details[0].path).toBe('body.answer.label.choices.0');
    expect((await submit(app, worker, a.id, { label: { choices: ['cat'] } })).statusCode).toBe(200);
  });

  it('writes the submission with its event; the same answer again replays, a different one is 409', async () => {
    await activeJob(env, 1);
    const { worker } = await vendorWithWorker(env);
    const a = (await claim(app, worker)).json();
    const first = await submit(app, worker, a.id, { label: { choices: ['dog'] } }, 4200);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ id: a.id, status: 'submitted', answer: { label: { choices: ['dog'] } }, time_spent_ms: 4200 });
    const again = await submit(app, worker, a.id, { label: { choices: ['dog'] } }, 4200);
    expect(again.json()).toEqual(first.json());
    const different = await submit(app, worker, a.id, { label: { choices: ['cat'] } });
    expect(different.statusCode).toBe(409);
    expect(different.json().error.code).toBe('already_submitted');
    const events = await env.db.selectFrom('outbox').select(['payload', 'queue']).where('event', '=', 'assignment.submitted').execute();
    expect(events.filter((e) => (e.payload as { assignment_id: number }).assignment_id === a.id).length).toBeGreaterThan(0);
  });

  it('answers bad input with 4xx in the one error shape', async () => {
    const { worker } = await vendorWithWorker(env);
    const cases = [
      await app.inject({ method: 'POST', url: '/v1/assignments/next?wait=31', headers: worker.auth }),
      await app.inject({ method: 'POST', url: '/v1/assignments/abc/submit', headers: worker.auth, payload: { answer: {}, time_spent_ms: 1 } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/1/submit', headers: worker.auth, payload: { time_spent_ms: -1 } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/1/release', headers: worker.auth, payload: { reason: 'bored' } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/999999/heartbeat', headers: worker.auth }),
    ];
    expect(cases.map((c) => c.statusCode)).toEqual([400, 400, 400, 400, 404]);
    for (const c of cases) expect(c.json().error).toMatchObject({ code: expect.any(String), message: expect.any(String), details: expect.any(Array) });
  });
});

describe('GET /v1/me', () => {
  it('shows skills, live leases, ledger earnings and the work awaiting QA', async () => {
    await activeJob(env, 3, { pay_per_annotation: 7, currency: 'INR' });
    const { worker } = await vendorWithWorker(env, { skills: { cls: 2 } });
    const a = (await claim(app, worker)).json();
    await submit(app, worker, a.id, { label: { choices: ['cat'] } }, 3000);
    const live = (await claim(app, worker)).json();
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: worker.auth });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.worker.id).toBe(worker.workerId);
    expect(body.skills).toMatchObject([{ skill: 'cls', level: 2 }]);
    expect(body.leases.map((l: { id: number }) => l.id)).toEqual([live.id]);
    // Nothing is owed until QA decides: the ledger has nothing yet, the submission awaits QA.
    expect(body.earnings).toEqual({ by_currency: [], awaiting_qa: [{ currency: 'INR', submitted_count: 1, time_spent_ms: 3000 }] });

    // Once settlement posts QA's decision, /v1/me shows it from the ledger (settlement's view).
    const row = await env.db.selectFrom('assignments').innerJoin('jobs', 'jobs.id', 'assignments.job_id').select(['assignments.task_id', 'assignments.job_id', 'jobs.client_id']).where('assignments.id', '=', a.id).executeTakeFirstOrThrow();
    const decision = { decision_id: 1, assignment_id: a.id, task_id: row.task_id, job_id: row.job_id, client_id: row.client_id, worker_id: worker.workerId, vendor_id: worker.vendorId, outcome: 'accepted', kind: 'annotation', worker_level: 2, supersedes_decision_id: null, decided_at: new Date().toISOString() };
    await env.db.transaction().execute(async (trx) => {
      await sql`SELECT st_record_decisions(${JSON.stringify([decision])}::jsonb)`.execute(trx);
    });
    const after = (await app.inject({ method: 'GET', url: '/v1/me', headers: worker.auth })).json();
    // 7 at L2 (1.15) = 8.05, rounded to 8; no vendor commission.
    expect(after.earnings.by_currency).toEqual([{ currency: 'INR', pending: '8', approved: '0', paid: '0' }]);
  });
});
