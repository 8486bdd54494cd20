import { describe, expect } from 'vitest';
import { answerContextOf } from '@fairlabel/contracts';
import { sql, type Db, type JobsTable } from '@fairlabel/db';
import { outboxRowsJson } from '@fairlabel/queues';
import { integrationTest, type WorkerActor } from '@fairlabel/testing';
import type { Insertable } from 'kysely';
import { runClaimBatch, type ClaimRequest } from '../src/claim.service.js';
import { runSubmitBatch, type SubmitRequest } from '../src/submit.service.js';

// The batched claim and submit (issue 14): wa_claim_batch / wa_submit_batch called with SQL give, per
// request, exactly what the same calls of wa_claim / wa_submit one after another give on the same
// data; the service's batch runners give each request its own outcome when one of them fails.

const NOW = new Date('2026-11-29T20:00:00Z');

type Sql = Db | Parameters<Parameters<ReturnType<Db['transaction']>['execute']>[0]>[0];

interface Claimed {
  outcome: string;
  task_id: number | null;
  job_id: string | null;
}

const claimJson = (q: ClaimRequest) => ({
  worker_id: q.workerId,
  vendor_id: q.vendorId,
  now: q.now.toISOString(),
  check_worker: q.checkWorker,
  jobs: q.jobs,
  full_search: q.fullSearch,
});

async function claimOneByOne(on: Sql, requests: ClaimRequest[]): Promise<Claimed[]> {
  const out: Claimed[] = [];
  for (const q of requests) {
    const r = await sql<Claimed>`
      SELECT outcome, task_id, job_id FROM wa_claim(${q.workerId}::uuid, ${q.vendorId}::uuid, ${q.now}::timestamptz, ${q.checkWorker}, ${q.jobs}::uuid[], ${q.fullSearch})
    `.execute(on);
    out.push(r.rows[0]!);
  }
  return out;
}

async function claimBatch(on: Sql, requests: ClaimRequest[]): Promise<Claimed[]> {
  const r = await sql<Claimed>`
    SELECT outcome, task_id, job_id FROM wa_claim_batch(${JSON.stringify(requests.map(claimJson))}::jsonb) WITH ORDINALITY b ORDER BY ordinality
  `.execute(on);
  return r.rows;
}

class Rollback extends Error {}

/** What `fn` returns when run in a transaction that is then rolled back: the data stays as it was. */
async function thenRollBack<T>(db: Db, fn: (trx: Sql) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await db
    .transaction()
    .execute(async (trx) => {
      result = await fn(trx);
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
  return result!;
}

const test = integrationTest()
  /** An active job of a new client with `tasks` open tasks (1 unless told), each taking `required` annotations. */
  .extend('makeJob', async ({ seed }) => async (opts: Partial<Insertable<JobsTable>> & { tasks?: number; required?: number } = {}) => {
    const { tasks = 1, required, ...columns } = opts;
    const row = await seed.job(await seed.client(), { status: 'active', ...columns });
    return { ...row, tasks: await seed.tasks(row.id, tasks, required === undefined ? {} : { required }) };
  })
  /** A worker of a new vendor. */
  .extend('makeWorker', async ({ seed }) => async () => seed.worker(await seed.vendor()))
  .extend('request', async () => (w: WorkerActor, opts: Partial<ClaimRequest> = {}): ClaimRequest => ({
    workerId: w.workerId,
    vendorId: w.vendorId,
    now: NOW,
    checkWorker: true,
    jobs: [],
    fullSearch: true,
    ...opts,
  }));

describe('wa_claim_batch', () => {
  test('gives each claim what the same claims one after another give: eligibility, share cap, overlap, never the same item twice, priority and deadline order', async ({
    env,
    seed,
    makeJob,
    request,
  }) => {
    const v1 = (await seed.vendor()).organizationId;
    const v2 = (await seed.vendor()).organizationId;
    const hours = (h: number) => new Date(NOW.getTime() + h * 3600_000);
    // Skill level 2 or more, two tasks of overlap 2.
    const skilled = await makeJob({ priority: 2, required_skill: 'cls', min_level: 2, tasks: 2, required: 2 });
    // Same priority, the earlier deadline first; vendor 1 may hold at most floor(0.34 × 3) = 1 slot of the first.
    const soon = await makeJob({ priority: 1, deadline: hours(1), tasks: 3, required: 1, vendor_share_caps: JSON.stringify({ [v1]: 0.34 }) });
    const later = await makeJob({ priority: 1, deadline: hours(2), tasks: 2, required: 1, allowed_regions: ['IN-KA'] });
    // The best job, but only vendor 2 may work on it.
    const v2only = await makeJob({ priority: 5, tasks: 1, required: 1, vendor_allowlist: [v2] });

    const w1 = await seed.worker(v1, { skills: { cls: 3 } });
    const w2 = await seed.worker(v1, { skills: { cls: 1 } });
    const w3 = await seed.worker(v2, { skills: { cls: 2 }, region_country: 'US', region_province: null });
    const w4 = await seed.worker(v1, { skills: { cls: 5 }, status: 'suspended' });
    const w5 = await seed.worker(v1, { skills: { cls: 2 }, region_province: 'TN' });
    const order = [w1, w2, w3, w1, w4, w5, w3, w2, w1, w5, w3, w1, w2, w5, w1, w3, w1];
    const requests = order.map((w) => request(w));
    // A long poll's retry (no worker checks) and a claim kept to a hint without the full search.
    requests.push(request(w4, { checkWorker: false }), request(w2, { jobs: [later.id], fullSearch: false }));

    const expected = await thenRollBack(env.db, (trx) => claimOneByOne(trx, requests));
    const batched = await claimBatch(env.db, requests);
    expect(batched).toEqual(expected);

    // The scenario does exercise the rules (read off the committed batch).
    const jobOf = (i: number) => batched[i]!.job_id;
    expect(jobOf(0)).toBe(skilled.id); // w1: the best job vendor 1 may take
    expect(jobOf(2)).toBe(v2only.id); // w3: vendor 2's own best job
    expect(batched[4]!.outcome).toBe('suspended');
    expect(batched.filter((r, i) => order[i] === w2 && r.job_id === skilled.id)).toEqual([]);
    expect(batched.filter((r, i) => order[i] === w3 && r.job_id === later.id)).toEqual([]);
    expect(batched.filter((r) => r.outcome === 'none').length).toBeGreaterThan(0);
    const rows = await env.db
      .selectFrom('assignments')
      .select(['task_id', 'job_id', 'worker_id', 'vendor_id'])
      .where('job_id', 'in', [skilled.id, soon.id, later.id, v2only.id])
      .execute();
    expect(rows).toHaveLength(batched.filter((r) => r.outcome === 'claimed').length);
    expect(new Set(rows.map((r) => `${r.task_id}/${r.worker_id}`)).size).toBe(rows.length);
    const perTask = new Map<number, number>();
    for (const r of rows) perTask.set(r.task_id, (perTask.get(r.task_id) ?? 0) + 1);
    for (const t of [...skilled.tasks, ...soon.tasks, ...later.tasks, ...v2only.tasks]) expect(perTask.get(t.id) ?? 0).toBeLessThanOrEqual(t.required_annotations);
    expect(rows.filter((r) => r.job_id === soon.id && r.vendor_id === v1)).toHaveLength(1);
    // w2 (below the skill level) gets the earlier deadline first, which uses vendor 1's share of it; so
    // w1, once done with the skilled job's two tasks, gets the later deadline, and then nothing.
    expect(batched.filter((_, i) => order[i] === w2).map((r) => r.job_id)).toEqual([soon.id, later.id, null]);
    expect(batched.filter((_, i) => order[i] === w1).map((r) => r.job_id)).toEqual([skilled.id, skilled.id, later.id, null, null, null]);
  });

  test('a failing request fails the whole call and writes nothing (the caller then runs each alone)', async ({ env, makeJob, makeWorker, request }) => {
    await makeJob({ tasks: 3 });
    const [a, b] = [await makeWorker(), await makeWorker()];
    const bad = { ...claimJson(request(b)), jobs: ['not-a-uuid'] };
    await expect(sql`SELECT * FROM wa_claim_batch(${JSON.stringify([claimJson(request(a)), bad])}::jsonb)`.execute(env.db)).rejects.toMatchObject({ code: '22P02' });
    const written = await env.db.selectFrom('assignments').select('id').where('worker_id', 'in', [a.workerId, b.workerId]).execute();
    expect(written).toEqual([]);
  });
});

describe('runClaimBatch (the claim batcher’s runner)', () => {
  test('one request that Postgres refuses fails alone; the others are claimed as they would be one by one', async ({ env, makeJob, makeWorker, request }) => {
    const j = await makeJob({ tasks: 3, required: 1 });
    const ws = [await makeWorker(), await makeWorker(), await makeWorker()];
    const requests = [request(ws[0]!), request(ws[1]!, { jobs: ['not-a-uuid'] }), request(ws[2]!)];
    const out = await runClaimBatch(env, requests);
    expect(out.map((o) => (o.ok ? { outcome: o.value.outcome, task_id: o.value.task_id } : { code: (o.error as { code: string }).code }))).toEqual([
      { outcome: 'claimed', task_id: j.tasks[0]!.id },
      { code: '22P02' },
      { outcome: 'claimed', task_id: j.tasks[1]!.id },
    ]);
    expect(await env.db.selectFrom('assignments').select('id').where('worker_id', '=', ws[1]!.workerId).execute()).toEqual([]);
  });

  test('a batch of claims goes in one call and gives what one by one gives', async ({ env, makeJob, makeWorker, request }) => {
    const j = await makeJob({ tasks: 2, required: 2 });
    const ws = [await makeWorker(), await makeWorker(), await makeWorker(), await makeWorker(), await makeWorker()];
    const requests = [...ws.map((w) => request(w)), request(ws[0]!)];
    const expected = await thenRollBack(env.db, (trx) => claimOneByOne(trx, requests));
    const out = await runClaimBatch(env, requests);
    expect(out.map((o) => (o.ok ? { outcome: o.value.outcome, task_id: o.value.task_id, job_id: o.value.job_id } : o))).toEqual(expected);
    // Overlap 2: two workers per task; the sixth request is the first worker again, and the task it has
    // not done is full.
    expect(expected.map((r) => r.task_id)).toEqual([j.tasks[0]!.id, j.tasks[0]!.id, j.tasks[1]!.id, j.tasks[1]!.id, null, null]);
  });
});

/** Live leases of `n` new workers on a new job, as the claim makes them. */
async function leases(env: { db: Db }, makeJob: () => Promise<{ id: string }>, makeWorker: () => Promise<WorkerActor>, n: number) {
  const job = await makeJob();
  const out = [];
  for (let i = 0; i < n; i++) {
    const w = await makeWorker();
    const r = await sql<{ id: number; task_id: number; job_id: string; lease_expires_at: Date }>`
      SELECT id, task_id, job_id, lease_expires_at FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, ${NOW}::timestamptz, true, ${[job.id]}::uuid[], false)
    `.execute(env.db);
    out.push({ w, a: r.rows[0]! });
  }
  return out;
}

function submitRequest(l: { w: WorkerActor; a: { id: number; task_id: number; job_id: string } }, opts: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    id: l.a.id,
    workerId: l.w.workerId,
    now: new Date(NOW.getTime() + 1000),
    answer: JSON.stringify({ label: { choices: ['cat'] } }),
    timeSpentMs: 1234,
    facts: { task_id: l.a.task_id, job_id: l.a.job_id, vendor_id: l.w.vendorId, context: answerContextOf({ text: 'x' }) },
    outbox: outboxRowsJson('assignment.submitted', { assignment_id: l.a.id, task_id: l.a.task_id, job_id: l.a.job_id, worker_id: l.w.workerId, vendor_id: l.w.vendorId }),
    ...opts,
  };
}

const submitJson = (q: SubmitRequest) => ({
  id: q.id,
  worker_id: q.workerId,
  now: q.now.toISOString(),
  answer: JSON.parse(q.answer) as unknown,
  time_spent_ms: q.timeSpentMs,
  task_id: q.facts.task_id,
  job_id: q.facts.job_id,
  vendor_id: q.facts.vendor_id,
  outbox: JSON.parse(q.outbox) as unknown,
});

/** What each submit wrote: the assignment's id and status, or null for "matched nothing"; and the outbox rows written. */
async function submitOneByOne(on: Sql, requests: SubmitRequest[]) {
  const out: ({ id: number; status: string } | null)[] = [];
  for (const q of requests) {
    const r = await sql<{ id: number; status: string }>`
      SELECT id, status FROM wa_submit(${q.id}, ${q.workerId}::uuid, ${q.now}::timestamptz, ${q.answer}::jsonb, ${q.timeSpentMs},
                                       ${q.facts.task_id}, ${q.facts.job_id}::uuid, ${q.facts.vendor_id}::uuid, ${q.outbox}::jsonb, 'batch_test')
    `.execute(on);
    out.push(r.rows[0] ?? null);
  }
  return { out, outbox: await outboxOf(on, requests) };
}

async function outboxOf(on: Sql, requests: SubmitRequest[]) {
  const r = await sql<{ id: number }>`
    SELECT (payload ->> 'assignment_id')::bigint AS id FROM outbox WHERE (payload ->> 'assignment_id')::bigint = ANY(${requests.map((q) => q.id)}::bigint[]) ORDER BY id
  `.execute(on);
  return r.rows.map((x) => Number(x.id));
}

describe('wa_submit_batch', () => {
  test('writes what the same submits one after another write: the holders’ live leases, once each, with their events', async ({ env, makeJob, makeWorker }) => {
    const ls = await leases(env, () => makeJob({ tasks: 5 }), () => makeWorker(), 5);
    const [l0, l1, l2, l3, l4] = ls as [(typeof ls)[0], (typeof ls)[0], (typeof ls)[0], (typeof ls)[0], (typeof ls)[0]];
    const requests = [
      submitRequest(l0),
      submitRequest(l1, { workerId: l2.w.workerId }), // not the holder
      submitRequest(l0), // a second submit of the same assignment in the batch
      submitRequest(l2, { now: l2.a.lease_expires_at }), // the lease has run out
      submitRequest(l3),
      submitRequest(l4, { facts: { ...submitRequest(l4).facts, task_id: l3.a.task_id } }), // not its task
    ];
    const expected = await thenRollBack(env.db, (trx) => submitOneByOne(trx, requests));
    expect(expected.out.map((r) => r?.id ?? null)).toEqual([l0.a.id, null, null, null, l3.a.id, null]);

    const rows = await sql<{ id: number | null; status: string | null }>`
      SELECT id, status FROM wa_submit_batch(${JSON.stringify(requests.map(submitJson))}::jsonb, 'batch_test') WITH ORDINALITY b ORDER BY ordinality
    `.execute(env.db);
    expect(rows.rows.map((r) => (r.id === null ? null : r))).toEqual(expected.out);
    expect(await outboxOf(env.db, requests)).toEqual(expected.outbox);
    const statuses = await env.db.selectFrom('assignments').select(['id', 'status']).where('id', 'in', ls.map((l) => l.a.id)).orderBy('id').execute();
    expect(statuses.map((s) => s.status)).toEqual(['submitted', 'leased', 'leased', 'submitted', 'leased']);
  });
});

describe('runSubmitBatch (the submit batcher’s runner)', () => {
  test('an answer Postgres cannot store fails that submit alone; the others are submitted with their events', async ({ env, makeJob, makeWorker }) => {
    const ls = await leases(env, () => makeJob({ tasks: 3 }), () => makeWorker(), 3);
    const requests = [submitRequest(ls[0]!), submitRequest(ls[1]!, { answer: JSON.stringify({ label: { choices: ['c\u0000t'] } }) }), submitRequest(ls[2]!)];
    const out = await runSubmitBatch(env, requests);
    expect(out.map((o) => (o.ok ? (o.value ? { id: o.value.id, status: o.value.status } : null) : { code: (o.error as { code: string }).code }))).toEqual([
      { id: ls[0]!.a.id, status: 'submitted' },
      { code: '22P05' },
      { id: ls[2]!.a.id, status: 'submitted' },
    ]);
    expect([...new Set(await outboxOf(env.db, requests))]).toEqual([ls[0]!.a.id, ls[2]!.a.id]);
    const failed = await env.db.selectFrom('assignments').select(['status', 'answer']).where('id', '=', ls[1]!.a.id).executeTakeFirstOrThrow();
    expect(failed).toEqual({ status: 'leased', answer: null });
  });
});
