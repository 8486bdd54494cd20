import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import { Queue } from 'bullmq';
import { expectError, labelConfigs } from '@fairlabel/testing';
import { expireStaleLeases } from '../src/leases.service.js';
import { createLeaseExpiryWorker, LEASE_EXPIRY_QUEUE } from '../src/lease-expiry.scheduler.js';
import { starvedVendors } from '../src/fair-share.js';
import { announceSlots, SlotWakeups, slotsChannel } from '../src/wakeups.js';
import { claim, expectClaim, expectNoClaim, lease, submit, test } from './helpers.js';

describe('leases', () => {
  test('extends a lease on heartbeat by the job lease time times the worker lease factor', async ({ app, env, seed }) => {
    const job = await seed.activeJob(1, { lease_seconds: 100 });
    const { worker } = await seed.vendorWithWorker({ accommodations: JSON.stringify({ lease_factor: 1.5 }) });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    expect(new Date(a.lease_expires_at as string).getTime() - new Date(a.leased_at as string).getTime()).toBe(150_000);
    env.clock.advance(100_000);
    const hb = await lease(app, worker, a.id, 'heartbeat');
    expect(hb.statusCode, hb.body).toBe(200);
    expect(new Date(hb.json().lease_expires_at).getTime() - env.clock.now().getTime()).toBeGreaterThan(149_000);
  });

  test('is 404 for anyone but the holder', async ({ app, seed, vendor, worker, job }) => {
    const colleague = await seed.worker(vendor);
    const { worker: stranger } = await seed.vendorWithWorker();
    const a = await expectClaim(app, worker, job.tasks[0]!);
    for (const other of [colleague, stranger]) {
      expectError(await lease(app, other, a.id, 'heartbeat'), 404, 'not_found');
      expectError(await lease(app, other, a.id, 'release', { reason: 'skip' }), 404, 'not_found');
      expectError(await submit(app, other, a.id), 404, 'not_found');
    }
    // Only worker keys work these endpoints; a vendor cannot act in its worker's place.
    expectError(await lease(app, vendor, a.id, 'heartbeat'), 403, 'forbidden');
    // None of it touched the lease.
    expect((await lease(app, worker, a.id, 'heartbeat')).statusCode).toBe(200);
  });

  test('refuses submit and heartbeat after expiry with 409 lease_expired, and expiry returns the slot', async ({ app, env, seed, vendor, worker }) => {
    const job = await seed.activeJob(1, { lease_seconds: 60 });
    const next = await seed.worker(vendor);
    const a = await expectClaim(app, worker, job.tasks[0]!);
    await expectNoClaim(app, env, next, [job]);
    env.clock.advance(61_000);
    expectError(await submit(app, worker, a.id), 409, 'lease_expired');
    expectError(await lease(app, worker, a.id, 'heartbeat'), 409, 'lease_expired');

    expect(await expireStaleLeases(env)).toBe(1);
    const row = await env.db.selectFrom('assignments').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('expired');
    const events = await env.db.selectFrom('outbox').select(['queue', 'payload']).where('event', '=', 'assignment.expired').execute();
    expect(events.filter((e) => (e.payload as { job_id: string }).job_id === job.id).map((e) => (e.payload as { assignment_id: number }).assignment_id)).toContain(a.id);
    await expectClaim(app, next, job.tasks[0]!);
    expectError(await submit(app, worker, a.id), 409, 'lease_expired');
  });

  test('release frees the slot at once, records the reason and publishes assignment.released', async ({ app, env, seed, vendor, worker, job }) => {
    const next = await seed.worker(vendor);
    const a = await expectClaim(app, worker, job.tasks[0]!);
    const rel = await lease(app, worker, a.id, 'release', { reason: 'offensive_content', note: 'graphic' });
    expect(rel.statusCode, rel.body).toBe(200);
    expect(rel.json().status).toBe('released');
    await expectClaim(app, next, job.tasks[0]!);
    expectError(await lease(app, worker, a.id, 'release', { reason: 'skip' }), 409, 'lease_not_active');
    // The releasing worker does not get the item again.
    await expectNoClaim(app, env, worker, [job]);
    const row = await env.db.selectFrom('assignments').select(['status', 'release_reason']).where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'released', release_reason: 'offensive_content: graphic' });
    const ev = await env.db.selectFrom('outbox').select('payload').where('event', '=', 'assignment.released').execute();
    expect(ev.map((e) => e.payload)).toContainEqual(expect.objectContaining({ assignment_id: a.id, job_id: job.id, reason: 'offensive_content' }));
  });

  test('a long poll waiting for work gets the slot a release frees, and the release announces it', async ({ app, env, seed, vendor, worker, job }) => {
    const waiter = await seed.worker(vendor);
    const a = await expectClaim(app, worker, job.tasks[0]!);
    const announcements: string[] = [];
    const listener = env.redis.duplicate();
    listener.on('message', (_channel: string, message: string) => announcements.push(message));
    await listener.subscribe(slotsChannel(env.prefix));
    try {
      const waiting = claim(app, waiter, '?wait=20');
      // The waiter has found nothing (its vendor is marked as waiting for work) and listens for slots.
      await expect
        .poll(async () => {
          const starved = (await starvedVendors(env, env.clock.now())).includes(vendor.organizationId);
          const [, listeners] = (await env.redis.pubsub('NUMSUB', slotsChannel(env.prefix))) as [string, number];
          return starved && listeners >= 2;
        })
        .toBe(true);
      expect((await lease(app, worker, a.id, 'release', { reason: 'skip' })).statusCode).toBe(200);
      await expect.poll(() => announcements).toContain(job.id);
      const res = await waiting;
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ task_id: job.tasks[0]!.id, worker_id: waiter.workerId });
    } finally {
      listener.disconnect();
    }
  });

  test('a waiter is woken by an announcement on its channel', async ({ env }) => {
    const prefix = `${env.prefix}:wakeups`;
    const wakeups = new SlotWakeups(env.redis, prefix, env.logger);
    try {
      // Far longer than the test may run: only the announcement can end this wait in time.
      const woken = wakeups.wait(10 * 60_000);
      await expect.poll(async () => ((await env.redis.pubsub('NUMSUB', slotsChannel(prefix))) as [string, number])[1]).toBe(1);
      await announceSlots(env.redis, prefix, 'some-job');
      await woken;
    } finally {
      await wakeups.close();
    }
  });

  test('the scheduler on two workers expires each lease exactly once', async ({ app, env, seed, vendor }) => {
    const job = await seed.activeJob(40, { lease_seconds: 30 });
    const claimed: number[] = [];
    for (let i = 0; i < 40; i++) claimed.push((await expectClaim(app, await seed.worker(vendor), job.tasks[i]!)).id);
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
      const ids = outbox.filter((e) => (e.payload as { job_id: string }).job_id === job.id).map((e) => (e.payload as { assignment_id: number }).assignment_id);
      expect(ids.sort()).toEqual([...claimed].sort());
    } finally {
      await Promise.all([a.close(), b.close(), queue.close()]);
      connA.disconnect();
      connB.disconnect();
    }
  });
});

describe('submit', () => {
  test('validates the answer against the label config and names the failing field', async ({ app, seed, worker }) => {
    const job = await seed.activeJob(1, { task_type: 'bounding_boxes', label_config: JSON.stringify(labelConfigs.bounding_boxes) });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    const bad = expectError(await submit(app, worker, a.id, { label: { boxes: [{ labels: ['tree'], x: 0, y: 0, width: 5, height: 5 }] } }), 422, 'invalid_answer');
    expect(bad.details[0]!.path).toBe('body.answer.label.boxes.0.labels.0');
    expect((await submit(app, worker, a.id, { label: { boxes: [{ labels: ['car'], x: 0, y: 0, width: 5, height: 5 }] } })).statusCode).toBe(200);
  });

  test('checks an answer Postgres cannot store (\\u0000) in the usual order: 404 for another worker, 422 when invalid', async ({ app, seed, worker, job }) => {
    const { worker: other } = await seed.vendorWithWorker();
    const a = await expectClaim(app, worker, job.tasks[0]!);
    expectError(await submit(app, other, a.id, { label: { choices: ['c\u0000t'] } }), 404, 'not_found');
    const bad = expectError(await submit(app, worker, a.id, { label: { choices: ['c\u0000t'] } }), 422, 'invalid_answer');
    expect(bad.details[0]!.path).toBe('body.answer.label.choices.0');
    expect((await submit(app, worker, a.id, { label: { choices: ['cat'] } })).statusCode).toBe(200);
  });

  test('writes the submission with its event; the same answer again replays, a different one is 409', async ({ app, env, worker, job }) => {
    const a = await expectClaim(app, worker, job.tasks[0]!);
    const first = await submit(app, worker, a.id, { label: { choices: ['dog'] } }, 4200);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ id: a.id, status: 'submitted', answer: { label: { choices: ['dog'] } }, time_spent_ms: 4200 });
    const again = await submit(app, worker, a.id, { label: { choices: ['dog'] } }, 4200);
    expect(again.json()).toEqual(first.json());
    expectError(await submit(app, worker, a.id, { label: { choices: ['cat'] } }), 409, 'already_submitted');
    const events = await env.db.selectFrom('outbox').select(['payload', 'queue']).where('event', '=', 'assignment.submitted').execute();
    const ours = events.filter((e) => (e.payload as { assignment_id: number }).assignment_id === a.id);
    // One row per subscribing queue, written once despite the replay.
    expect(ours.length).toBeGreaterThan(0);
    expect(new Set(ours.map((e) => e.queue)).size).toBe(ours.length);
  });

  test('answers bad input with 4xx in the one error shape', async ({ app, worker }) => {
    const cases = [
      await app.inject({ method: 'POST', url: '/v1/assignments/next?wait=31', headers: worker.auth }),
      await app.inject({ method: 'POST', url: '/v1/assignments/abc/submit', headers: worker.auth, payload: { answer: {}, time_spent_ms: 1 } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/1/submit', headers: worker.auth, payload: { time_spent_ms: -1 } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/1/release', headers: worker.auth, payload: { reason: 'bored' } }),
      await app.inject({ method: 'POST', url: '/v1/assignments/999999/heartbeat', headers: worker.auth }),
    ];
    const statuses = [400, 400, 400, 400, 404];
    const codes = ['validation_failed', 'validation_failed', 'validation_failed', 'validation_failed', 'not_found'];
    cases.forEach((c, i) => expectError(c, statuses[i]!, codes[i]!));
  });
});

describe('GET /v1/me', () => {
  test('shows skills, live leases, ledger earnings and the work awaiting QA', async ({ app, env, seed }) => {
    const job = await seed.activeJob(3, { pay_per_annotation: 7, currency: 'INR' });
    const { worker } = await seed.vendorWithWorker({ skills: { cls: 2 } });
    const a = await expectClaim(app, worker, job.tasks[0]!);
    await submit(app, worker, a.id, { label: { choices: ['cat'] } }, 3000);
    const live = await expectClaim(app, worker, job.tasks[1]!);
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: worker.auth });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.worker.id).toBe(worker.workerId);
    expect(body.skills).toMatchObject([{ skill: 'cls', level: 2 }]);
    expect(body.leases.map((l: { id: number }) => l.id)).toEqual([live.id]);
    // Nothing is owed until QA decides: the ledger has nothing yet, the submission awaits QA.
    expect(body.earnings).toEqual({ by_currency: [], awaiting_qa: [{ currency: 'INR', submitted_count: 1, time_spent_ms: 3000 }] });

    // Once settlement posts QA's decision, /v1/me shows it from the ledger (settlement's view).
    const decision = { decision_id: 1, assignment_id: a.id, task_id: a.task_id, job_id: job.id, client_id: job.owner.organizationId, worker_id: worker.workerId, vendor_id: worker.vendorId, outcome: 'accepted', kind: 'annotation', worker_level: 2, supersedes_decision_id: null, decided_at: new Date().toISOString() };
    await env.db.transaction().execute(async (trx) => {
      await sql`SELECT st_record_decisions(${JSON.stringify([decision])}::jsonb)`.execute(trx);
    });
    const after = (await app.inject({ method: 'GET', url: '/v1/me', headers: worker.auth })).json();
    // 7 at L2 (1.15) = 8.05, rounded to 8; no vendor commission.
    expect(after.earnings.by_currency).toEqual([{ currency: 'INR', pending: '8', approved: '0', paid: '0' }]);
  });
});
