import { describe, expect } from 'vitest';
import { sql, sqlConstants, type JobsTable } from '@fairlabel/db';
import { integrationTest, type WorkerActor } from '@fairlabel/testing';
import type { Insertable, QueryExecutorProvider } from 'kysely';

// wa_claim and wa_submit called directly with SQL, one rule at a time (the rules are listed in
// packages/db/sql/wa_claim.sql and wa_answer_refused.sql). No HTTP: what is asserted is what the
// functions return and what they wrote.

const { WA_CLAIM_BATCH, WA_HINTED_JOBS } = sqlConstants;
const NOW = new Date('2026-11-29T20:00:00Z');

interface ClaimRow {
  outcome: string;
  id: number | null;
  task_id: number | null;
  job_id: string | null;
  leased_at: Date | null;
  lease_expires_at: Date | null;
  payload: unknown;
  instructions: string | null;
  pay_per_annotation: number | null;
  daily_active_limit_seconds: number | null;
  timezone: string | null;
  resets_at: Date | null;
}

interface SubmitRow {
  id: number;
  status: string;
  answer: unknown;
  time_spent_ms: number;
}

let outboxSeq = 0;

// The full search sees every active job of the database; the fixture leaves none of an earlier test
// active, so each test's claims can only find the jobs it made.
const test = integrationTest()
  .extend('waClaim', async ({ env }) => async (w: WorkerActor, opts: { check?: boolean; jobs?: string[]; full?: boolean; now?: Date; vendorId?: string } = {}): Promise<ClaimRow> => {
    const res = await sql<ClaimRow>`
      SELECT * FROM wa_claim(${w.workerId}::uuid, ${opts.vendorId ?? w.vendorId}::uuid, ${opts.now ?? NOW}::timestamptz, ${opts.check ?? true},
                             ${opts.jobs ?? []}::uuid[], ${opts.full ?? true})
    `.execute(env.db);
    return res.rows[0]!;
  })
  /** How many assignments a worker has (a claim that returned nothing must have left none behind). */
  .extend('assignmentsOf', async ({ env }) => async (w: WorkerActor) => (await env.db.selectFrom('assignments').select('id').where('worker_id', '=', w.workerId).execute()).length)
  /** An active job of a new client with `tasks` open tasks (1 unless told). */
  .extend('makeJob', async ({ seed }) => async (opts: Partial<Insertable<JobsTable>> & { tasks?: number; required?: number; taskPriority?: number } = {}) => {
    const { tasks = 1, required, taskPriority, ...columns } = opts;
    const row = await seed.job(await seed.client(), { status: 'active', ...columns });
    const taskRows = await seed.tasks(row.id, tasks, { ...(required === undefined ? {} : { required }), ...(taskPriority === undefined ? {} : { priority: taskPriority }) });
    return { ...row, tasks: taskRows };
  })
  /** A worker of `vendorId` (a vendor this test made), or of a new vendor. */
  .extend('makeWorker', async ({ seed }) => async (opts: Parameters<typeof seed.worker>[1] = {}, vendorId?: string) => seed.worker(vendorId ?? (await seed.vendor()), opts))
  .extend('insertAssignment', async ({ env }) => async (w: WorkerActor, taskId: number, jobId: string, values: Record<string, unknown> = {}) =>
    env.db
      .insertInto('assignments')
      .values({ task_id: taskId, job_id: jobId, worker_id: w.workerId, vendor_id: w.vendorId, status: 'leased', leased_at: NOW, lease_expires_at: new Date(NOW.getTime() + 600_000), ...values })
      .returning('id')
      .executeTakeFirstOrThrow(),
  )
  /** A live lease of a new worker on a new job. */
  .extend('leased', async ({ makeJob, makeWorker, waClaim }) => async () => {
    const j = await makeJob({ required_skill: 'cls', min_level: 1 });
    const w = await makeWorker({ skills: { cls: 1 } });
    const a = await waClaim(w);
    expect(a.outcome).toBe('claimed');
    return { j, w, a };
  })
  .extend('waSubmit', async ({ env }) => async (p: { id: number; w: WorkerActor; taskId: number; jobId: string; vendorId?: string; now?: Date }): Promise<SubmitRow[]> => {
    const marker = `h8c-${++outboxSeq}`;
    const outbox = JSON.stringify([{ event: 'assignment.submitted', queue: 'qa-sampling', payload: { marker } }]);
    const res = await sql<SubmitRow>`
      SELECT * FROM wa_submit(${p.id}, ${p.w.workerId}::uuid, ${p.now ?? new Date(NOW.getTime() + 1000)}::timestamptz, ${JSON.stringify({ label: 'cat' })}::jsonb, 1234,
                              ${p.taskId}, ${p.jobId}::uuid, ${p.vendorId ?? p.w.vendorId}::uuid, ${outbox}::jsonb, 'h8c_test')
    `.execute(env.db);
    const written = await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE payload ->> 'marker' = ${marker}`.execute(env.db);
    // The event is written exactly when the submit is.
    expect(written.rows[0]!.n).toBe(res.rows.length);
    return res.rows;
  });

describe('wa_claim: worker checks', () => {
  test('not_found for an unknown worker or one of another vendor, checked or not; nothing written', async ({ seed, waClaim, assignmentsOf, makeJob, makeWorker }) => {
    const j = await makeJob();
    const w = await makeWorker();
    const stranger = { ...w, workerId: '00000000-0000-4000-8000-00000000dead' };
    expect((await waClaim(stranger)).outcome).toBe('not_found');
    const otherVendor = (await seed.vendor()).organizationId;
    for (const check of [true, false]) expect((await waClaim(w, { vendorId: otherVendor, check })).outcome).toBe('not_found');
    expect(await assignmentsOf(w)).toBe(0);
    expect((await waClaim(w)).job_id).toBe(j.id);
  });

  test('suspended when the vendor suspended the worker; without the check (a long poll retrying) the claim goes on', async ({ waClaim, assignmentsOf, makeJob, makeWorker }) => {
    const j = await makeJob({ tasks: 2 });
    const w = await makeWorker({ status: 'suspended' });
    const refused = await waClaim(w);
    expect(refused).toMatchObject({ outcome: 'suspended', id: null, task_id: null });
    expect(await assignmentsOf(w)).toBe(0);
    expect(await waClaim(w, { check: false })).toMatchObject({ outcome: 'claimed', job_id: j.id });
  });

  test('daily_limit_reached once the active time of the worker’s day (their time zone) reaches the limit, with the limit, zone and next midnight', async ({ waClaim, assignmentsOf, makeJob, makeWorker, insertAssignment }) => {
    const j = await makeJob({ tasks: 5 });
    // 20:00Z is 01:30 on Nov 30 in Kolkata: the day began at 18:30Z.
    const w = await makeWorker({ timezone: 'Asia/Kolkata', daily_active_limit_seconds: 100 });
    const at = (iso: string) => new Date(iso);
    // Yesterday (Kolkata) does not count; 60 s of ended work today does.
    await insertAssignment(w, j.tasks[0]!.id, j.id, { status: 'submitted', leased_at: at('2026-11-29T18:00:00Z'), ended_at: at('2026-11-29T18:29:00Z') });
    await insertAssignment(w, j.tasks[1]!.id, j.id, { status: 'submitted', leased_at: at('2026-11-29T19:00:00Z'), ended_at: at('2026-11-29T19:01:00Z') });
    expect((await waClaim(w)).outcome).toBe('claimed');
    // That claim's live lease counts up to now: 40 s later the day holds 100 s.
    const later = new Date(NOW.getTime() + 40_000);
    expect(await waClaim(w, { now: later })).toMatchObject({
      outcome: 'daily_limit_reached',
      daily_active_limit_seconds: 100,
      timezone: 'Asia/Kolkata',
      resets_at: at('2026-11-30T18:30:00Z'),
      id: null,
    });
    expect(await assignmentsOf(w)).toBe(3);
    // 39 s later it did not yet.
    expect((await waClaim(w, { now: new Date(NOW.getTime() + 39_000) })).outcome).toBe('claimed');
  });
});

describe('wa_claim: eligibility', () => {
  test('only active jobs', async ({ waClaim, assignmentsOf, makeJob, makeWorker }) => {
    const w = await makeWorker();
    for (const status of ['draft', 'paused', 'completed', 'cancelled'] as const) {
      const j = await makeJob({ status });
      expect((await waClaim(w, { jobs: [j.id] })).outcome).toBe('none');
    }
    expect(await assignmentsOf(w)).toBe(0);
    const active = await makeJob();
    expect((await waClaim(w)).job_id).toBe(active.id);
  });

  test('the vendor allow-list', async ({ seed, waClaim, makeJob, makeWorker }) => {
    const w = await makeWorker();
    const other = await seed.vendor();
    const closed = await makeJob({ vendor_allowlist: [other.organizationId] });
    expect((await waClaim(w)).outcome).toBe('none');
    const open = await makeJob({ vendor_allowlist: [other.organizationId, w.vendorId] });
    const got = await waClaim(w);
    expect(got.job_id).toBe(open.id);
    expect(got.job_id).not.toBe(closed.id);
  });

  test('the required skill at the minimum level, not suspended', async ({ env, waClaim, makeJob, makeWorker }) => {
    const j = await makeJob({ required_skill: 'ner', min_level: 3, tasks: 3 });
    expect((await waClaim(await makeWorker())).outcome).toBe('none');
    expect((await waClaim(await makeWorker({ skills: { ner: 2 } }))).outcome).toBe('none');
    expect((await waClaim(await makeWorker({ skills: { other: 5 } }))).outcome).toBe('none');
    const suspended = await makeWorker({ skills: { ner: 5 } });
    await env.db.updateTable('worker_skills').set({ suspended_at: NOW }).where('worker_id', '=', suspended.workerId).execute();
    expect((await waClaim(suspended)).outcome).toBe('none');
    expect((await waClaim(await makeWorker({ skills: { ner: 3 } }))).job_id).toBe(j.id);
  });

  test('allowed regions: the country or the country-province', async ({ waClaim, makeJob, makeWorker }) => {
    const w = await makeWorker({ region_country: 'IN', region_province: 'KA' });
    const noProvince = await makeWorker({ region_country: 'IN', region_province: null });
    for (const regions of [['IN-MH'], ['BR'], ['KA']]) {
      const j = await makeJob({ allowed_regions: regions });
      expect((await waClaim(w, { jobs: [j.id], full: false })).outcome).toBe('none');
    }
    const province = await makeJob({ allowed_regions: ['BR', 'IN-KA'] });
    expect((await waClaim(w, { jobs: [province.id], full: false })).job_id).toBe(province.id);
    expect((await waClaim(noProvince, { jobs: [province.id], full: false })).outcome).toBe('none');
    const country = await makeJob({ allowed_regions: ['IN'] });
    expect((await waClaim(noProvince, { jobs: [country.id], full: false })).job_id).toBe(country.id);
  });

  test('a task whose overlap is full is not handed out; an expired lease gives its slot back', async ({ env, waClaim, makeJob, makeWorker }) => {
    const j = await makeJob({ required: 2 });
    const [a, b, c] = [await makeWorker(), await makeWorker(), await makeWorker()];
    const first = await waClaim(a);
    await waClaim(b);
    expect((await waClaim(c)).outcome).toBe('none');
    await env.db.updateTable('assignments').set({ status: 'expired' }).where('id', '=', first.id!).execute();
    expect(await waClaim(c)).toMatchObject({ outcome: 'claimed', task_id: j.tasks[0]!.id });
  });

  test('never a task the worker already had an assignment for, in any state', async ({ env, waClaim, assignmentsOf, makeJob, makeWorker, insertAssignment }) => {
    const j = await makeJob({ tasks: 1, required: 3 });
    const w = await makeWorker();
    for (const status of ['released', 'expired', 'rejected'] as const) {
      await env.db.deleteFrom('assignments').where('worker_id', '=', w.workerId).execute();
      await insertAssignment(w, j.tasks[0]!.id, j.id, { status, ended_at: NOW });
      expect((await waClaim(w)).outcome).toBe('none');
    }
    expect(await assignmentsOf(w)).toBe(1);
  });
});

describe('wa_claim: order', () => {
  test('job priority first, then the best open task priority, then deadline (none last), then the oldest task', async ({ waClaim, makeJob, makeWorker }) => {
    const w = await makeWorker({}, undefined);
    const deadline = (h: number) => new Date(NOW.getTime() + h * 3600_000);
    const low = await makeJob({ priority: 1, deadline: deadline(1) });
    const lateDeadline = await makeJob({ priority: 5, deadline: deadline(48) });
    const noDeadline = await makeJob({ priority: 5 });
    const early = await makeJob({ priority: 5, deadline: deadline(2), tasks: 2 });
    const urgentTask = await makeJob({ priority: 5, deadline: deadline(72), taskPriority: 9 });
    const top = await makeJob({ priority: 7, tasks: 1 });
    const order = [];
    for (let i = 0; i < 7; i++) order.push((await waClaim(w)).task_id);
    expect(order).toEqual([top.tasks[0]!.id, urgentTask.tasks[0]!.id, early.tasks[0]!.id, early.tasks[1]!.id, lateDeadline.tasks[0]!.id, noDeadline.tasks[0]!.id, low.tasks[0]!.id]);
    expect((await waClaim(w)).outcome).toBe('none');
  });
});

describe('wa_claim: the hinted and the full search', () => {
  test('walks the hinted jobs lazily: a later job is probed while its bound can beat the best found, so an out-of-order hint still ends at the best', async ({ waClaim, makeJob, makeWorker }) => {
    const w = await makeWorker();
    const jobs = [];
    for (let i = 0; i < WA_CLAIM_BATCH + 1; i++) jobs.push(await makeJob({ priority: i }));
    // Worst first: every next job's bound (its priority) beats the best so far, so the walk goes on to the last.
    expect((await waClaim(w, { jobs: jobs.map((j) => j.id), full: false })).job_id).toBe(jobs[WA_CLAIM_BATCH]!.id);
    // Without a hint the full search takes the best of the rest.
    expect((await waClaim(w, { jobs: [], full: true })).job_id).toBe(jobs[WA_CLAIM_BATCH - 1]!.id);
  });

  test('stops at the first hinted job whose bound cannot beat the best found: the jobs after it are not probed', async ({ waClaim, makeJob, makeWorker }) => {
    const w = await makeWorker();
    const good = await makeJob({ priority: 5 });
    const worse = await makeJob({ priority: 1 });
    const best = await makeJob({ priority: 9 });
    // A stale hint that has the best job last, behind a worse one: the walk stops at `worse`.
    expect((await waClaim(w, { jobs: [good.id, worse.id, best.id], full: false })).job_id).toBe(good.id);
    // In claim order it is found first.
    expect((await waClaim(w, { jobs: [best.id, good.id, worse.id], full: false })).job_id).toBe(best.id);
  });

  test('a worker who already did a job’s best task gets the next hinted job when its open head beats what is left for them in the first (rule 5, as the full search)', async ({ env, waClaim, makeJob, makeWorker, insertAssignment }) => {
    const w = await makeWorker();
    const deadline = (h: number) => new Date(NOW.getTime() + h * 3600_000);
    // Same job priority; `first` has an urgent task (priority 9) and a plain one, `second` a priority-5 task.
    const first = await makeJob({ priority: 3, deadline: deadline(1), taskPriority: 9, required: 3 });
    const plain = await env.db
      .insertInto('tasks')
      .values({ job_id: first.id, external_id: 'plain', payload: JSON.stringify({ text: 'plain' }), priority: 0, required_annotations: 3 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const second = await makeJob({ priority: 3, deadline: deadline(2), taskPriority: 5, required: 3 });
    const hint = (await sql<{ job_id: string }>`SELECT job_id FROM wa_job_order()`.execute(env.db)).rows.map((r) => r.job_id);
    expect(hint).toEqual([first.id, second.id]);
    await insertAssignment(w, first.tasks[0]!.id, first.id, { status: 'submitted', ended_at: NOW });
    // What is left for w in `first` is priority 0; `second`'s head (5) beats it.
    const lazy = await waClaim(w, { jobs: hint, full: false });
    expect(lazy.task_id).toBe(second.tasks[0]!.id);
    // The full search of a worker in the same position agrees.
    const twin = await makeWorker({}, w.vendorId);
    await insertAssignment(twin, first.tasks[0]!.id, first.id, { status: 'submitted', ended_at: NOW });
    expect((await waClaim(twin, { jobs: [], full: true })).task_id).toBe(second.tasks[0]!.id);
    // Then `first`'s plain task, for both.
    expect((await waClaim(w, { jobs: hint, full: false })).task_id).toBe(plain.id);
  });

  test('with many active jobs the lazy walk reaches a job far down the hint, and gives what the full search gives', async ({ env, waClaim, makeJob, makeWorker, insertAssignment }) => {
    const deadline = (h: number) => new Date(NOW.getTime() + h * 3600_000);
    const jobs = [];
    // Priorities and deadlines in a scrambled order, 4 answers a task: after w and twin, two more workers can be given the same task.
    for (let i = 0; i < WA_HINTED_JOBS; i++) jobs.push(await makeJob({ priority: (i * 7) % 5, deadline: deadline(1 + ((i * 11) % WA_HINTED_JOBS)), required: 4 }));
    const hint = (await sql<{ job_id: string }>`SELECT job_id FROM wa_job_order()`.execute(env.db)).rows.map((r) => r.job_id);
    expect(hint).toHaveLength(WA_HINTED_JOBS);
    const w = await makeWorker();
    const twin = await makeWorker({}, w.vendorId);
    // Both have done every job but the last of the hint.
    for (const id of hint.slice(0, -1)) {
      const j = jobs.find((x) => x.id === id)!;
      await insertAssignment(w, j.tasks[0]!.id, j.id, { status: 'submitted', ended_at: NOW });
      await insertAssignment(twin, j.tasks[0]!.id, j.id, { status: 'submitted', ended_at: NOW });
    }
    const lazy = await waClaim(w, { jobs: hint, full: false });
    expect(lazy.job_id).toBe(hint[WA_HINTED_JOBS - 1]);
    expect((await waClaim(twin, { jobs: [], full: true })).task_id).toBe(lazy.task_id);
    // Fresh workers: claim after claim, the walk of the hint in claim order and the full search agree.
    for (let k = 0; k < 4; k++) {
      const a = await makeWorker();
      const b = await makeWorker({}, a.vendorId);
      const order = (await sql<{ job_id: string }>`SELECT job_id FROM wa_job_order()`.execute(env.db)).rows.map((r) => r.job_id);
      const byWalk = await waClaim(a, { jobs: order, full: false });
      expect(byWalk.outcome).toBe('claimed');
      expect((await waClaim(b, { jobs: [], full: true })).task_id).toBe(byWalk.task_id);
    }
  });

  test('with more than WA_HINTED_JOBS active jobs, only the first WA_HINTED_JOBS hinted are probed; the full search finds the rest', async ({ waClaim, makeJob, makeWorker, insertAssignment }) => {
    const w = await makeWorker();
    const jobs = [];
    for (let i = 0; i < WA_HINTED_JOBS + 8; i++) jobs.push(await makeJob({ status: 'active' }));
    // Every hinted job within the first WA_HINTED_JOBS has its task done by this worker already.
    for (const j of jobs.slice(0, WA_HINTED_JOBS)) await insertAssignment(w, j.tasks[0]!.id, j.id, { status: 'submitted', ended_at: NOW });
    const hint = jobs.map((j) => j.id);
    expect((await waClaim(w, { jobs: hint, full: false })).outcome).toBe('none');
    const found = await waClaim(w, { jobs: hint, full: true });
    expect(found.outcome).toBe('claimed');
    expect(hint.indexOf(found.job_id!)).toBeGreaterThanOrEqual(WA_HINTED_JOBS);
  });

  test('the full search finds a job the (stale) hint does not name; without it the claim keeps to the hint', async ({ waClaim, makeJob, makeWorker, insertAssignment }) => {
    const w = await makeWorker();
    const exhausted = await makeJob();
    await insertAssignment(w, exhausted.tasks[0]!.id, exhausted.id, { status: 'submitted', ended_at: NOW });
    const fresh = await makeJob();
    expect((await waClaim(w, { jobs: [exhausted.id], full: false })).outcome).toBe('none');
    expect((await waClaim(w, { jobs: [exhausted.id], full: true })).job_id).toBe(fresh.id);
    // A hinted job that is not eligible (paused since) is skipped, never claimed.
    const paused = await makeJob({ status: 'paused' });
    expect((await waClaim(w, { jobs: [paused.id], full: false })).outcome).toBe('none');
  });
});

describe('wa_claim: the vendor share cap', () => {
  test('allows floor(cap × total slots) despite float rounding: 0.29 × 100 slots allows 29, not 28', async ({ env, seed, waClaim, makeJob, makeWorker, insertAssignment }) => {
    const j = await makeJob({ tasks: 100, required: 1 });
    const vendor = (await seed.vendor()).organizationId;
    await env.db.updateTable('jobs').set({ vendor_share_caps: JSON.stringify({ [vendor]: 0.29 }) }).where('id', '=', j.id).execute();
    const held = await seed.worker(vendor);
    // 28 held before the first capped claim: the usage row is created from them on first need.
    for (const t of j.tasks.slice(0, 28)) await insertAssignment(held, t.id, j.id, { status: 'submitted', ended_at: NOW });
    const w = await seed.worker(vendor);
    expect((await waClaim(w)).outcome).toBe('claimed');
    const usage = await env.db.selectFrom('job_vendor_usage').select('held').where('job_id', '=', j.id).where('vendor_id', '=', vendor).executeTakeFirstOrThrow();
    expect(usage.held).toBe(29);
    expect((await waClaim(w)).outcome).toBe('none');
    expect((await waClaim(await seed.worker(vendor))).outcome).toBe('none');
    // Another vendor is not held back; a rejected assignment gives the capped vendor room again.
    expect((await waClaim(await makeWorker())).outcome).toBe('claimed');
    const one = await env.db.selectFrom('assignments').select('id').where('worker_id', '=', held.workerId).executeTakeFirstOrThrow();
    await env.db.updateTable('assignments').set({ status: 'rejected' }).where('id', '=', one.id).execute();
    expect((await waClaim(w)).outcome).toBe('claimed');
  });
});

describe('wa_claim: what a claim writes and returns', () => {
  test('the assignment with a lease of the job lease time × the worker lease factor, and what the worker is shown', async ({ env, waClaim, makeJob, makeWorker }) => {
    const j = await makeJob({ lease_seconds: 100, instructions: 'Be kind.', tasks: 4 });
    const w = await makeWorker({ accommodations: JSON.stringify({ lease_factor: 1.5 }) });
    const got = await waClaim(w);
    expect(got).toMatchObject({ outcome: 'claimed', job_id: j.id, task_id: j.tasks[0]!.id, instructions: 'Be kind.', pay_per_annotation: 5, payload: { text: 'item 0' } });
    expect(got.lease_expires_at!.getTime() - got.leased_at!.getTime()).toBe(150_000);
    const row = await env.db.selectFrom('assignments').selectAll().where('id', '=', got.id!).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'leased', worker_id: w.workerId, vendor_id: w.vendorId, task_id: j.tasks[0]!.id });
    // A lease factor that is not a number counts as 1; below 1 as 1.
    for (const accommodations of [{ lease_factor: 'x' }, { lease_factor: 0.5 }, {}]) {
      const other = await makeWorker({ accommodations: JSON.stringify(accommodations) });
      const lease = await waClaim(other);
      expect(lease.lease_expires_at!.getTime() - lease.leased_at!.getTime()).toBe(100_000);
    }
  });
});

/** The synchronous_commit in force on a connection (or in its open transaction). */
async function synchronousCommit(on: QueryExecutorProvider): Promise<string> {
  return (await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(on)).rows[0]!.synchronous_commit;
}

describe('wa_claim: durability (rule 9)', () => {
  test('a claim’s transaction commits asynchronously, and only that transaction: the session and a submit’s transaction stay synchronous', async ({ env, leased, makeJob, makeWorker }) => {
    await makeJob({ tasks: 3 });
    const w = await makeWorker();
    // One connection for the whole test, so SHOW reads the settings of the transactions it ran.
    await env.db.connection().execute(async (conn) => {
      expect(await synchronousCommit(conn)).toBe('on');
      await conn.transaction().execute(async (trx) => {
        const got = await sql<ClaimRow>`SELECT * FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, ${NOW}::timestamptz, true, ${[]}::uuid[], true)`.execute(trx);
        expect(got.rows[0]!.outcome).toBe('claimed');
        // Still off after the function returned (a SET clause on the function would have undone it here, before the commit).
        expect(await synchronousCommit(trx)).toBe('off');
      });
      // The transaction ended: the connection is back to the server's setting for whatever it runs next.
      expect(await synchronousCommit(conn)).toBe('on');
      // A claim in autocommit (as the batcher runs it): once it has committed, the connection is synchronous again.
      await sql`SELECT * FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, ${NOW}::timestamptz, true, ${[]}::uuid[], true)`.execute(conn);
      expect(await synchronousCommit(conn)).toBe('on');
    });
    // The batched claim too: it runs wa_claim per request inside its one transaction.
    const other = await makeWorker();
    await env.db.connection().execute(async (conn) => {
      await conn.transaction().execute(async (trx) => {
        const batch = JSON.stringify([{ worker_id: other.workerId, vendor_id: other.vendorId, now: NOW.toISOString(), check_worker: true, jobs: [], full_search: true }]);
        const rows = await sql<ClaimRow>`SELECT * FROM wa_claim_batch(${batch}::jsonb)`.execute(trx);
        expect(rows.rows.map((r) => r.outcome)).toEqual(['claimed']);
        expect(await synchronousCommit(trx)).toBe('off');
      });
    });
    // A submit does not turn it off: it commits synchronously (money and QA follow from it), and its
    // commit flushes every claim written before it.
    const { j, w: holder, a } = await leased();
    await env.db.transaction().execute(async (trx) => {
      const outbox = JSON.stringify([{ event: 'assignment.submitted', queue: 'qa-sampling', payload: { marker: 'rule-9' } }]);
      const submitted = await sql<SubmitRow>`
        SELECT * FROM wa_submit(${a.id!}, ${holder.workerId}::uuid, ${new Date(NOW.getTime() + 1000)}::timestamptz, ${JSON.stringify({ label: 'cat' })}::jsonb, 1234,
                                ${a.task_id!}, ${j.id}::uuid, ${holder.vendorId}::uuid, ${outbox}::jsonb, 'rule_9_test')
      `.execute(trx);
      expect(submitted.rows).toHaveLength(1);
      expect(await synchronousCommit(trx)).toBe('on');
    });
  });
});

describe('wa_claim: after a crash (rule 9)', () => {
  test('the first claim that finds wa_claim_epoch empty moves the assignment ids a million on and commits synchronously; later claims do not', async ({ env, makeJob, makeWorker }) => {
    // PostgreSQL empties unlogged tables when it recovers from a crash: that is what makes the table the crash's mark.
    const persistence = await sql<{ relpersistence: string }>`SELECT relpersistence FROM pg_class WHERE relname = 'wa_claim_epoch'`.execute(env.db);
    expect(persistence.rows[0]!.relpersistence).toBe('u');
    await makeJob({ tasks: 4 });
    const workers = [await makeWorker(), await makeWorker(), await makeWorker()];
    const claim = async (w: WorkerActor) =>
      env.db.transaction().execute(async (trx) => {
        const row = (await sql<ClaimRow>`SELECT * FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, ${NOW}::timestamptz, true, ${[]}::uuid[], true)`.execute(trx)).rows[0]!;
        const commit = await synchronousCommit(trx);
        return { id: Number(row.id), commit };
      });
    const before = await claim(workers[0]!);
    expect(before.commit).toBe('off');
    // What crash recovery does to the table.
    await sql`TRUNCATE wa_claim_epoch`.execute(env.db);
    const first = await claim(workers[1]!);
    expect(first.commit).toBe('on');
    expect(first.id).toBeGreaterThan(before.id + 1_000_000);
    const after = await claim(workers[2]!);
    expect(after.commit).toBe('off');
    expect(after.id).toBeGreaterThan(first.id);
    expect(after.id).toBeLessThan(first.id + 1_000);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM wa_claim_epoch`.execute(env.db)).rows[0]!.n).toBe(1);
  });
});

describe('wa_submit', () => {
  test('the holder of a live lease: the assignment is submitted with its answer, and the event is written', async ({ leased, waSubmit }) => {
    const { j, w, a } = await leased();
    const rows = await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id });
    expect(rows).toEqual([expect.objectContaining({ id: a.id, status: 'submitted', answer: { label: 'cat' }, time_spent_ms: 1234 })]);
    // A second submit matches nothing (the checked path replays or refuses it).
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id })).toEqual([]);
  });

  test('matches nothing, and writes nothing, for another worker, another task, job or vendor, or an expired lease', async ({ env, seed, makeJob, makeWorker, leased, waSubmit }) => {
    const { j, w, a } = await leased();
    const other = await makeWorker({ skills: { cls: 1 } }, w.vendorId);
    expect(await waSubmit({ id: a.id!, w: other, taskId: a.task_id!, jobId: j.id })).toEqual([]);
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id! + 1, jobId: j.id })).toEqual([]);
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: (await makeJob()).id })).toEqual([]);
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id, vendorId: (await seed.vendor()).organizationId })).toEqual([]);
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id, now: a.lease_expires_at! })).toEqual([]);
    const row = await env.db.selectFrom('assignments').select(['status', 'answer']).where('id', '=', a.id!).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'leased', answer: null });
  });

  test('matches nothing once the task may no longer take an answer: purged, decided, cancelled, job cancelled or completed, worker or skill suspended', async ({ env, leased, waSubmit }) => {
    const cases: Record<string, (ids: { taskId: number; jobId: string; workerId: string }) => Promise<unknown>> = {
      purged: ({ taskId }) => env.db.updateTable('tasks').set({ payload: null }).where('id', '=', taskId).execute(),
      decided: ({ taskId }) => env.db.updateTable('tasks').set({ status: 'decided' }).where('id', '=', taskId).execute(),
      'task cancelled': ({ taskId }) => env.db.updateTable('tasks').set({ status: 'cancelled' }).where('id', '=', taskId).execute(),
      'job cancelled': ({ jobId }) => env.db.updateTable('jobs').set({ status: 'cancelled' }).where('id', '=', jobId).execute(),
      'job completed': ({ jobId }) => env.db.updateTable('jobs').set({ status: 'completed' }).where('id', '=', jobId).execute(),
      'worker suspended': ({ workerId }) => env.db.updateTable('workers').set({ status: 'suspended' }).where('id', '=', workerId).execute(),
      'skill suspended': ({ workerId }) => env.db.updateTable('worker_skills').set({ suspended_at: NOW }).where('worker_id', '=', workerId).execute(),
    };
    for (const [name, change] of Object.entries(cases)) {
      const { j, w, a } = await leased();
      await change({ taskId: a.task_id!, jobId: j.id, workerId: w.workerId });
      expect({ name, rows: await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id }) }).toEqual({ name, rows: [] });
    }
  });

  test('a paused job still takes the answer of a lease granted before the pause', async ({ env, leased, waSubmit }) => {
    const { j, w, a } = await leased();
    await env.db.updateTable('jobs').set({ status: 'paused' }).where('id', '=', j.id).execute();
    expect(await waSubmit({ id: a.id!, w, taskId: a.task_id!, jobId: j.id })).toHaveLength(1);
  });
});

describe('wa_answer_refused', () => {
  test('names the first reason a lease may not take an answer, or none', async ({ env }) => {
    const at = NOW.toISOString();
    const cases: [string, string | null, string, string | null, string | null, string | null][] = [
      ['open', 'active', 'active', null, null, null],
      ['open', 'paused', 'active', null, null, null],
      ['open', 'active', 'suspended', null, null, 'worker_suspended'],
      ['open', 'active', 'active', at, null, 'skill_suspended'],
      ['open', 'active', 'active', null, at, 'job_suspended'],
      ['open', 'active', 'active', at, at, 'skill_suspended'],
      ['open', 'active', 'suspended', null, at, 'worker_suspended'],
      ['decided', 'active', 'active', null, at, 'job_suspended'],
      ['decided', 'active', 'active', null, null, 'task_closed'],
      ['cancelled', 'cancelled', 'active', null, null, 'task_closed'],
      ['open', 'completed', 'active', null, null, 'task_closed'],
      ['open', 'draft', 'active', null, null, 'task_closed'],
      ['open', null, 'active', null, null, 'task_closed'],
      ['decided', 'active', 'suspended', null, null, 'worker_suspended'],
    ];
    for (const [task, jobStatus, workerStatus, skillSuspendedAt, jobBlockedAt, expected] of cases) {
      const res = await sql<{ r: string | null }>`SELECT wa_answer_refused(${task}, ${jobStatus}, ${workerStatus}, ${skillSuspendedAt}::timestamptz, ${jobBlockedAt}::timestamptz) AS r`.execute(env.db);
      expect({ task, jobStatus, workerStatus, skillSuspendedAt, jobBlockedAt, r: res.rows[0]!.r }).toEqual({ task, jobStatus, workerStatus, skillSuspendedAt, jobBlockedAt, r: expected });
    }
  });
});
