import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDb, createPool, migrateToLatest, sql, type Db } from '@fairlabel/db';
import { newClient, newJob, newTasks, newVendor, newWorker, type WorkerActor } from '@fairlabel/testing';
import { PrivatePostgres } from './servers.js';

// Rule 9 of packages/db/sql/wa_claim.sql against a real crash: a claim commits asynchronously, so a
// crash may lose the last claims and put the assignments' id sequence back; the first claim after the
// restart must move the ids past every one handed out before (wa_claim_after_crash), so no lease id is
// ever given twice. A private cluster of the suite's own (servers.ts), stopped in immediate mode (the
// processes exit without a checkpoint: the next start runs crash recovery, as after a crash).

let server: PrivatePostgres;
let db: Db;

function connect() {
  db = createDb(createPool(server.url(), 4));
}

beforeAll(async () => {
  server = await PrivatePostgres.create();
  await server.start();
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE fairlabel');
  await admin.end();
  connect();
  await migrateToLatest(db);
}, 120_000);

afterAll(async () => {
  await db?.destroy().catch(() => undefined);
  await server?.destroy();
});

async function claim(w: WorkerActor): Promise<{ outcome: string; id: number | null }> {
  const r = await sql<{ outcome: string; id: string | null }>`
    SELECT outcome, id FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, now(), true, ${[]}::uuid[], true)
  `.execute(db);
  const row = r.rows[0]!;
  return { outcome: row.outcome, id: row.id === null ? null : Number(row.id) };
}

describe('a claim after a Postgres crash', () => {
  it('never gets an assignment id a claim before the crash was given, and the crash mark is put back', async () => {
    const client = await newClient(db);
    const vendor = await newVendor(db);
    const job = await newJob(db, client.organizationId, { status: 'active', overlap: 1 });
    await newTasks(db, job.id, 300, { required: 1 });
    const workers: WorkerActor[] = [];
    for (let i = 0; i < 60; i++) workers.push(await newWorker(db, vendor.organizationId));

    // Claims answered before the crash (each committed asynchronously), the last ones just before it.
    const before: number[] = [];
    for (const w of workers.slice(0, 40)) {
      const c = await claim(w);
      expect(c.outcome).toBe('claimed');
      before.push(c.id!);
    }
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM wa_claim_epoch`.execute(db)).rows[0]!.n).toBe(1);

    await db.destroy();
    await server.crash();
    await server.start();
    connect();
    expect(server.recentLog()).toMatch(/not properly shut down|automatic recovery/);
    // Crash recovery emptied the unlogged table: the mark that the ids must move on.
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM wa_claim_epoch`.execute(db)).rows[0]!.n).toBe(0);

    const after: number[] = [];
    for (const w of workers.slice(40)) {
      const c = await claim(w);
      expect(c.outcome).toBe('claimed');
      after.push(c.id!);
    }
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before) + 1_000_000);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM wa_claim_epoch`.execute(db)).rows[0]!.n).toBe(1);
    // Whatever of the claims before the crash survived, each is still one lease of one worker.
    const survived = await db.selectFrom('assignments').select(['id', 'worker_id']).where('id', 'in', before).execute();
    for (const a of survived) expect(workers.slice(0, 40).map((w) => w.workerId)).toContain(a.worker_id);
  }, 120_000);
});
