import { describe, expect } from 'vitest';
import { Job, Queue, Worker } from 'bullmq';
import { batchJob, outboxSource, packBatches, Reconciler, stackQueueNames } from '@fairlabel/queues';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { buildGateway } from '../src/app.js';

const base = integrationTest({ app: buildGateway })
  /** `queue(name)`: a BullMQ queue of the file's stack, closed after the file. */
  .extend('queue', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const queues = new Map<string, Queue>();
    onCleanup(async () => {
      for (const q of queues.values()) await q.close();
    });
    return (name: string): Queue => {
      let q = queues.get(name);
      if (!q) queues.set(name, (q = new Queue(name, { connection: env.redis, prefix: env.prefix })));
      return q;
    };
  });



const test = base
  /** Adds the jobs to the queue and lets a consumer fail each of them for good (one attempt each). */
  .extend('failJobs', async ({ env, queue }) => async (name: string, jobs: { id: string; event?: string; data?: Record<string, unknown> }[]) => {
    const q = queue(name);
    const before = await q.getFailedCount();
    await q.addBulk(jobs.map((j) => ({ name: j.event ?? 'assignment.submitted', data: j.data ?? { assignment_id: 1 }, opts: { jobId: j.id, attempts: 1, removeOnFail: false } })));
    const connection = env.redis.duplicate();
    const worker = new Worker(
      name,
      async (job) => {
        throw new Error(`the handler refused ${job.id}`);
      },
      { connection, prefix: env.prefix, concurrency: 1 },
    );
    try {
      for (let i = 0; i < 200 && (await q.getFailedCount()) < before + jobs.length; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await q.getFailedCount()).toBe(before + jobs.length);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  })
  .extend('get', async ({ app }) => (url: string, actor?: Actor) => app.inject({ method: 'GET', url, headers: actor?.auth ?? {} }))
  .extend('post', async ({ app }) => (url: string, actor?: Actor) => app.inject({ method: 'POST', url, headers: actor?.auth ?? {} }))
  .extend('del', async ({ app }) => (url: string, actor?: Actor) => app.inject({ method: 'DELETE', url, headers: actor?.auth ?? {} }));

describe('who may use the ops API', () => {
  const routes: [string, string][] = [
    ['GET', '/v1/ops/queues'],
    ['GET', '/v1/ops/queues/settlement/failed'],
    ['POST', '/v1/ops/queues/settlement/failed/outbox-1/retry'],
    ['DELETE', '/v1/ops/queues/settlement/failed/outbox-1'],
    ['POST', '/v1/ops/queues/settlement/pause'],
    ['POST', '/v1/ops/queues/settlement/resume'],
    ['GET', '/v1/ops/overview'],
  ];

  test('without a key: 401 unauthorized on every route', async ({ app }) => {
    for (const [method, url] of routes) {
      const res = await app.inject({ method: method as 'GET', url });
      expect({ url, status: res.statusCode, code: res.json().error.code }).toEqual({ url, status: 401, code: 'unauthorized' });
    }
  });

  test('client, vendor, worker and finance keys: 403 forbidden on every route, and nothing is paused', async ({ app, seed, queue }) => {
    const client = await seed.client();
    const vendor = await seed.vendor();
    const worker = await seed.worker(vendor);
    const finance = await seed.platformKey('finance');
    for (const actor of [client, vendor, worker, finance]) {
      for (const [method, url] of routes) {
        const res = await app.inject({ method: method as 'GET', url, headers: actor.auth });
        expect({ url, status: res.statusCode, code: res.json().error.code }).toEqual({ url, status: 403, code: 'forbidden' });
      }
    }
    expect(await queue('settlement').isPaused()).toBe(false);
  });

  test('ops and admin keys read the queues and the overview', async ({ admin, ops, get }) => {
    for (const actor of [ops, admin]) {
      expect((await get('/v1/ops/queues', actor)).statusCode).toBe(200);
      expect((await get('/v1/ops/overview', actor)).statusCode).toBe(200);
    }
  });
});

describe('GET /v1/ops/queues', () => {
  test('lists every queue of the stack with its counts, the jobs completed in the last hour and the age of the oldest waiting job', async ({ env, ops, queue, get }) => {
    const q = queue('qa-sampling');
    // Two jobs waiting; the older one was added 90 s ago (backdated in its hash, as BullMQ keeps it).
    await q.add('assignment.submitted', { assignment_id: 1 }, { jobId: 'outbox-901' });
    await q.add('assignment.submitted', { assignment_id: 2 }, { jobId: 'outbox-902' });
    await env.redis.hset(q.toKey('outbox-901'), 'timestamp', String(Date.now() - 90_000));
    await q.add('assignment.submitted', { assignment_id: 3 }, { jobId: 'outbox-903', delay: 60_000 });
    // One completed now, one completed two hours ago (kept, but not in the last hour).
    await env.redis.zadd(q.toKey('completed'), Date.now() - 1000, 'outbox-800', Date.now() - 2 * 3600_000, 'outbox-700');

    const res = await get('/v1/ops/queues', ops);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.data.map((d: { name: string }) => d.name)).toEqual([...stackQueueNames]);
    const qa = body.data.find((d: { name: string }) => d.name === 'qa-sampling');
    expect(qa).toMatchObject({ waiting: 2, active: 0, delayed: 1, failed: 0, paused: false, completed_last_hour: 1 });
    expect(qa.oldest_waiting_age_seconds).toBeGreaterThanOrEqual(89);
    expect(qa.oldest_waiting_age_seconds).toBeLessThan(120);
    expect(body.data.find((d: { name: string }) => d.name === 'webhook-deliveries')).toMatchObject({ waiting: 0, oldest_waiting_age_seconds: null });
    await q.obliterate({ force: true });
  });
});

describe('failed jobs', () => {
  test('are listed most recently failed first, with error and attempts, page by page with a cursor that survives retries between pages', async ({ env, ops, queue, failJobs, get, post }) => {
    const ids = ['outbox-11', 'outbox-12', 'outbox-13', 'outbox-14', 'outbox-15'];
    await failJobs('webhooks', ids.map((id) => ({ id, event: 'job.completed', data: { job_id: id } })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    const retried: number[] = [];
    do {
      const res = await get(`/v1/ops/queues/webhooks/failed?limit=2${cursor ? `&cursor=${cursor}` : ''}`, ops);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      for (const job of page.data) {
        expect(job).toMatchObject({ queue: 'webhooks', name: 'job.completed', error: `the handler refused ${job.id}`, attempts_made: 1, max_attempts: 1, outbox_id: Number(job.id.slice(7)), outbox_ids: [Number(job.id.slice(7))] });
        expect(job.stacktrace[0]).toContain('the handler refused');
        expect(Date.parse(job.failed_at)).toBeGreaterThan(Date.now() - 60_000);
      }
      seen.push(...page.data.map((j: { id: string }) => j.id));
      // The job shown last on the first page is retried before the next page is asked for: the next page still follows it.
      if (pages === 0) retried.push((await post(`/v1/ops/queues/webhooks/failed/${seen.at(-1)}/retry`, ops)).statusCode);
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(retried).toEqual([200]);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(5);
    // Most recently failed first: BullMQ's order of the failed set (time, then id, descending).
    const scores = await Promise.all(seen.slice(2).map((id) => env.redis.zscore(queue('webhooks').toKey('failed'), id)));
    expect(scores.map(Number)).toEqual([...scores.map(Number)].sort((a, b) => b - a));
    await queue('webhooks').obliterate({ force: true });
  });

  test('an unknown queue is a 404, a cursor we did not make a 400', async ({ ops, get }) => {
    const unknown = await get('/v1/ops/queues/no-such-queue/failed', ops);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    for (const cursor of ['bm9wZQ', Buffer.from(JSON.stringify(['outbox-1', 12])).toString('base64url')]) {
      const bad = await get(`/v1/ops/queues/settlement/failed?cursor=${cursor}`, ops);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('invalid_cursor');
    }
  });

  test('a retried job waits again, and is written in the audit log; retrying it again is a 409, an unknown job a 404', async ({ env, ops, queue, failJobs, post }) => {
    await failJobs('settlement', [{ id: 'outbox-21', event: 'task.decided' }]);
    const res = await post('/v1/ops/queues/settlement/failed/outbox-21/retry', ops);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ queue: 'settlement', job_id: 'outbox-21', status: 'waiting', outbox_id: 21, outbox_ids: [21] });
    const job = await Job.fromId(queue('settlement'), 'outbox-21');
    expect(await job!.getState()).toBe('waiting');
    expect(job!.attemptsMade).toBe(1);

    const again = await post('/v1/ops/queues/settlement/failed/outbox-21/retry', ops);
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'job_not_failed', details: [{ path: 'params.jobId', state: 'waiting' }] });
    const missing = await post('/v1/ops/queues/settlement/failed/outbox-404/retry', ops);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
    const unknownQueue = await post('/v1/ops/queues/nope/failed/outbox-21/retry', ops);
    expect(unknownQueue.statusCode).toBe(404);

    const audit = await env.db.selectFrom('audit_log').selectAll().where('resource_id', '=', 'settlement/outbox-21').execute();
    expect(audit).toEqual([expect.objectContaining({ action: 'ops.job.retry', actor_key_id: ops.keyId, actor_role: 'ops', resource_type: 'queue_job' })]);
    await queue('settlement').obliterate({ force: true });
  });

  test('reset_attempts=true gives a retried job the whole retry schedule again', async ({ admin, queue, failJobs, post }) => {
    await failJobs('settlement', [{ id: 'outbox-22' }]);
    expect((await post('/v1/ops/queues/settlement/failed/outbox-22/retry?reset_attempts=true', admin)).statusCode).toBe(200);
    expect((await Job.fromId(queue('settlement'), 'outbox-22'))!.attemptsMade).toBe(0);
    await queue('settlement').obliterate({ force: true });
  });

  test('a discarded outbox event is gone from its queue and marked in Postgres, so the reconciler does not publish it again', async ({ env, seed, ops, queue, failJobs, del }) => {
    const client = await seed.client();
    const row = await env.db
      .insertInto('outbox')
      .values({ event: 'job.completed', queue: 'webhooks', payload: JSON.stringify({ job_id: client.organizationId }), sent_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const jobId = `outbox-${row.id}`;
    await failJobs('webhooks', [{ id: jobId, event: 'job.completed' }]);

    const res = await del(`/v1/ops/queues/webhooks/failed/${jobId}`, ops);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ queue: 'webhooks', job_id: jobId, status: 'discarded', outbox_id: row.id, outbox_ids: [row.id] });
    expect(await Job.fromId(queue('webhooks'), jobId)).toBeUndefined();
    const after = await env.db.selectFrom('outbox').select(['discarded_at', 'consumed_at']).where('id', '=', row.id).executeTakeFirstOrThrow();
    expect(after.discarded_at).toBeInstanceOf(Date);
    expect(after.consumed_at).toBeNull();

    const source = outboxSource({ redis: env.redis, prefix: env.prefix });
    try {
      expect(await source.repair({ db: env.db, redis: env.redis, prefix: env.prefix, logger: env.logger, now: new Date() })).toBe(0);
    } finally {
      await source.close!();
    }
    expect(await Job.fromId(queue('webhooks'), jobId)).toBeUndefined();
    const audit = await env.db.selectFrom('audit_log').selectAll().where('resource_id', '=', `webhooks/${jobId}`).executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ action: 'ops.job.discard', actor_key_id: ops.keyId });
    expect(audit.details).toMatchObject({ event: 'job.completed', error: `the handler refused ${jobId}` });

    // Discarding it again, or a job that is not failed, is a 404 / 409.
    expect((await del(`/v1/ops/queues/webhooks/failed/${jobId}`, ops)).statusCode).toBe(404);
    await queue('webhooks').add('job.completed', {}, { jobId: 'outbox-999999' });
    const waiting = await del('/v1/ops/queues/webhooks/failed/outbox-999999', ops);
    expect(waiting.statusCode).toBe(409);
    expect(waiting.json().error.code).toBe('job_not_failed');
    expect(await Job.fromId(queue('webhooks'), 'outbox-999999')).toBeDefined();
    await queue('webhooks').obliterate({ force: true });
  });
});

describe('a failed batch of outbox events', () => {
  test('is listed with the rows it carries; discarding it marks every row recorded with it, and the reconciler leaves them alone', async ({ env, seed, ops, queue, failJobs, get, del }) => {
    const client = await seed.client();
    const payloads = [1, 2, 3].map(() => ({ job_id: client.organizationId }));
    const rows = await env.db
      .insertInto('outbox')
      .values(payloads.map((p) => ({ event: 'job.completed', queue: 'webhooks', payload: JSON.stringify(p), sent_at: new Date() })))
      .returning('id')
      .execute();
    const ids = rows.map((r) => r.id).sort((a, b) => a - b);
    const [batch] = packBatches(ids.map((id, i) => ({ id, event: 'job.completed', queue: 'webhooks', payload: payloads[i] })));
    await env.db.updateTable('outbox').set({ batch_id: batch!.jobId }).where('id', 'in', ids).execute();
    // A row committed with another batch (published twice by a relay that died) is not this job's to discard.
    const other = await env.db
      .insertInto('outbox')
      .values({ event: 'job.completed', queue: 'webhooks', payload: JSON.stringify(payloads[0]), sent_at: new Date(), batch_id: 'outbox-batch-1-000000000000' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const job = batchJob(batch!);
    await failJobs('webhooks', [{ id: batch!.jobId, event: job.name, data: job.data as unknown as Record<string, unknown> }]);

    const listed = (await get('/v1/ops/queues/webhooks/failed', ops)).json().data.find((j: { id: string }) => j.id === batch!.jobId);
    expect(listed).toMatchObject({ name: 'events', outbox_id: null, outbox_ids: ids });

    const res = await del(`/v1/ops/queues/webhooks/failed/${batch!.jobId}`, ops);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ queue: 'webhooks', job_id: batch!.jobId, status: 'discarded', outbox_id: null, outbox_ids: ids });
    expect(await Job.fromId(queue('webhooks'), batch!.jobId)).toBeUndefined();
    const after = await env.db.selectFrom('outbox').select(['id', 'discarded_at']).where('id', 'in', [...ids, other.id]).orderBy('id').execute();
    expect(after.map((r) => [r.id, r.discarded_at instanceof Date])).toEqual([...ids.map((id) => [id, true]), [other.id, false]]);
    const audit = await env.db.selectFrom('audit_log').selectAll().where('resource_id', '=', `webhooks/${batch!.jobId}`).executeTakeFirstOrThrow();
    expect(audit.details).toMatchObject({ event: 'events', outbox_ids: ids });

    // The reconciler does not bring the discarded batch back.
    await env.db.deleteFrom('outbox').where('id', '=', other.id).execute();
    const source = outboxSource({ redis: env.redis, prefix: env.prefix });
    try {
      expect(await source.repair({ db: env.db, redis: env.redis, prefix: env.prefix, logger: env.logger, now: new Date() })).toBe(0);
    } finally {
      await source.close!();
    }
    expect(await Job.fromId(queue('webhooks'), batch!.jobId)).toBeUndefined();
    await queue('webhooks').obliterate({ force: true });
  });
});

describe('pause and resume', () => {
  test('pause stops a queue from handing out jobs, resume lets it go on; both are audited; an unknown queue is a 404', async ({ env, admin, ops, queue, get, post }) => {
    const paused = await post('/v1/ops/queues/task-dispatch/pause', ops);
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ name: 'task-dispatch', paused: true });
    expect(await queue('task-dispatch').isPaused()).toBe(true);
    const listed = (await get('/v1/ops/queues', ops)).json().data.find((d: { name: string }) => d.name === 'task-dispatch');
    expect(listed.paused).toBe(true);
    expect((await get('/v1/ops/overview', ops)).json().queues.paused).toEqual(['task-dispatch']);

    const resumed = await post('/v1/ops/queues/task-dispatch/resume', admin);
    expect(resumed.statusCode).toBe(200);
    expect(resumed.json()).toMatchObject({ name: 'task-dispatch', paused: false });
    expect(await queue('task-dispatch').isPaused()).toBe(false);

    const actions = await env.db.selectFrom('audit_log').select(['action', 'actor_role']).where('resource_type', '=', 'queue').where('resource_id', '=', 'task-dispatch').orderBy('id').execute();
    expect(actions).toEqual([
      { action: 'ops.queue.pause', actor_role: 'ops' },
      { action: 'ops.queue.resume', actor_role: 'admin' },
    ]);
    for (const action of ['pause', 'resume']) {
      const res = await post(`/v1/ops/queues/nope/${action}`, ops);
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
  });
});

describe('GET /v1/ops/overview', () => {
  test('counts active workers, claims in the last minute, leases about to expire, jobs behind deadline, outbox lag and reconciler repairs', async ({ env, seed, ops, get }) => {
    const client = await seed.client();
    const vendor = await seed.vendor();
    const late = await seed.job(client, { status: 'active', deadline: new Date(Date.now() - 3600_000) });
    await seed.job(client, { status: 'paused', deadline: new Date(Date.now() + 3600_000) });
    const tasks = await seed.tasks(late.id, 3, { required: 3 });
    const workers = await Promise.all([1, 2, 3].map(() => seed.worker(vendor)));
    const now = Date.now();
    // Worker 1: a lease expiring in 30 s; worker 2: one for 10 minutes; worker 3: one past its expiry, claimed 5 minutes ago.
    const leases = [
      { w: workers[0]!, expires: now + 30_000, leased: now - 20_000 },
      { w: workers[1]!, expires: now + 600_000, leased: now - 10_000 },
      { w: workers[2]!, expires: now - 5_000, leased: now - 300_000 },
    ];
    for (const [i, l] of leases.entries()) {
      await env.db
        .insertInto('assignments')
        .values({ task_id: tasks[i]!.id, job_id: late.id, worker_id: l.w.workerId, vendor_id: vendor.organizationId, status: 'leased', leased_at: new Date(l.leased), lease_expires_at: new Date(l.expires) })
        .execute();
    }
    await env.db
      .insertInto('outbox')
      .values([
        { event: 'job.completed', queue: 'webhooks', payload: JSON.stringify({}), created_at: new Date(now - 42_000) },
        { event: 'job.completed', queue: 'webhooks', payload: JSON.stringify({}) },
      ])
      .execute();
    const reconciler = new Reconciler({
      db: env.db,
      redis: env.redis,
      prefix: env.prefix,
      logger: env.logger,
      sources: [{ kind: 'outbox', repair: async () => 3 }, { kind: 'scheduler', repair: async () => 0 }],
      intervalMs: 3_600_000,
    });
    await reconciler.run('flush');
    await reconciler.run('interval');

    const res = await get('/v1/ops/overview', ops);
    expect(res.statusCode).toBe(200);
    const o = res.json();
    expect(o.workers).toEqual({ active: 2, claimed_last_minute: 2 });
    expect(o.claims_per_minute).toBe(2);
    expect(o.leases).toEqual({ live: 2, expiring_within_60s: 1, past_expiry: 1 });
    expect(o.jobs).toEqual({ active: 1, paused: 1, behind_deadline: 1 });
    expect(o.outbox.unsent).toBe(2);
    expect(o.outbox.lag_seconds).toBeGreaterThanOrEqual(41);
    expect(o.outbox.lag_seconds).toBeLessThan(100);
    expect(o.reconciler).toMatchObject({ last_trigger: 'interval', last_run_repaired: { outbox: 3, scheduler: 0 }, repaired_total: { outbox: 6, scheduler: 0 } });
    expect(Date.parse(o.reconciler.last_run_at)).toBeGreaterThan(now - 60_000);
    await reconciler.stop();
  });
});

describe('/metrics', () => {
  test('carries the queue gauges and the outbox lag, read from Redis and Postgres at scrape time', async ({ env, queue, failJobs, get }) => {
    await failJobs('settlement', [{ id: 'outbox-31' }, { id: 'outbox-32' }]);
    await env.db.deleteFrom('outbox').where('sent_at', 'is', null).execute();
    await env.db.insertInto('outbox').values({ event: 'job.completed', queue: 'webhooks', payload: JSON.stringify({}), created_at: new Date(Date.now() - 120_000) }).execute();
    const text = (await get('/metrics')).body;
    expect(text).toMatch(/^fairlabel_queue_jobs\{queue="settlement",state="failed",service="[^"]+"\} 2$/m);
    expect(text).toMatch(/^fairlabel_queue_oldest_waiting_age_seconds\{queue="lease-expiry",service="[^"]+"\} 0$/m);
    expect(text).toMatch(/^fairlabel_queue_paused\{queue="webhooks",service="[^"]+"\} 0$/m);
    const lag = /^fairlabel_outbox_lag_seconds\{service="[^"]+"\} ([\d.]+)$/m.exec(text);
    expect(Number(lag?.[1])).toBeGreaterThanOrEqual(119);
    expect(text).toMatch(/^fairlabel_outbox_unsent_rows\{service="[^"]+"\} [1-9]/m);
    expect(text).toContain('# TYPE fairlabel_claim_duration_seconds histogram');
    expect(text).toMatch(/^fairlabel_qa_decisions_total\{kind="gold",outcome="rejected",source="consumer",service="[^"]+"\} 0$/m);
    await queue('settlement').obliterate({ force: true });
  });
});
