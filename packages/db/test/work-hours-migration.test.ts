import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as test } from '../src/testing/index.js';
import { migrationBefore } from './migration-before.js';
import { createMigrator } from '../src/index.js';

// The work-hours migration on data recorded before it: settlement_work_hours is filled from the
// decisions, assignments and reviews already there (hand-computed figures below), and down removes it.

const MIGRATION = '20261129T1950_settlement_work_hours';

describe(MIGRATION, () => {
  test('fills the kept hours from the decisions and reviews recorded before it', async ({ db }) => {
    const migrator = createMigrator(db);
    const before = await migrationBefore(migrator, MIGRATION);
    expect((await migrator.migrateTo(before)).error).toBeUndefined();

    const client = '00000000-0000-4000-8000-0000000000c1';
    const vendor = '00000000-0000-4000-8000-0000000000a1';
    const worker = '00000000-0000-4000-9000-000000000001';
    const job = '00000000-0000-4000-a000-000000000001';
    await db.transaction().execute(async (trx) => {
      // Rows as the services would have written them; their triggers and foreign keys are not under test.
      await sql`SET LOCAL session_replication_role = replica`.execute(trx);
      await sql`INSERT INTO organizations (id, name, kind) VALUES (${client}, 'c', 'client'), (${vendor}, 'v', 'vendor')`.execute(trx);
      await sql`INSERT INTO workers (id, vendor_id, display_name, region_country, city_tier, area) VALUES (${worker}, ${vendor}, 'w', 'IN', 1, 'urban')`.execute(trx);
      await sql`INSERT INTO jobs (id, client_id, name, task_type, label_config, pay_per_annotation, client_price_per_item, currency, overlap, status)
        VALUES (${job}, ${client}, 'j', 'classification', '{"labels":["a","b"]}', 100, 400, 'INR', 2, 'active')`.execute(trx);
      await sql`INSERT INTO tasks (id, job_id, external_id, payload, required_annotations) OVERRIDING SYSTEM VALUE VALUES (1, ${job}, 't1', '{}', 2), (2, ${job}, 't2', '{}', 2)`.execute(trx);
      // Assignment 1: 30 min reported in a 20 min lease (capped: 20 min). Assignment 2: 5 min reported.
      await sql`INSERT INTO assignments (id, task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at, submitted_at, ended_at, time_spent_ms, answer) OVERRIDING SYSTEM VALUE VALUES
        (1, 1, ${job}, ${worker}, ${vendor}, 'accepted', '2026-11-01T09:00Z', '2026-11-01T10:00Z', '2026-11-01T09:20Z', '2026-11-01T09:20Z', 1800000, '{}'),
        (2, 2, ${job}, ${worker}, ${vendor}, 'accepted', '2026-11-01T09:00Z', '2026-11-01T10:00Z', '2026-11-01T09:10Z', '2026-11-01T09:10Z', 300000, '{}')`.execute(trx);
    });
    // Assignment 1 decided twice (its hours count at the first decision, 10:05); assignment 2 at 11:30;
    // a 7 min review at 11:59.
    await sql`INSERT INTO settlement_decisions (decision_id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, outcome, kind, decided_at) VALUES
      (1, 1, 1, ${job}, ${client}, ${worker}, ${vendor}, 'accepted', 'annotation', '2026-11-01T12:40Z'),
      (2, 1, 1, ${job}, ${client}, ${worker}, ${vendor}, 'rejected', 'annotation', '2026-11-01T10:05Z'),
      (3, 2, 2, ${job}, ${client}, ${worker}, ${vendor}, 'accepted', 'annotation', '2026-11-01T11:30Z')`.execute(db);
    await sql`INSERT INTO settlement_reviews (review_id, reviewer_worker_id, reviewer_vendor_id, assignment_id, job_id, client_id, outcome, time_spent_ms, completed_at)
      VALUES (1, ${worker}, ${vendor}, 2, ${job}, ${client}, 'accepted', 420000, '2026-11-01T11:59Z')`.execute(db);

    expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
    const kept = await sql<{ currency: string; hour: string; worker_id: string; client_id: string; ms: string; pieces: number }>`
      SELECT currency, to_char(hour AT TIME ZONE 'UTC', 'HH24:MI') AS hour, worker_id, client_id, round(ms)::text AS ms, pieces
      FROM settlement_work_hours ORDER BY hour`.execute(db);
    expect(kept.rows).toEqual([
      { currency: 'INR', hour: '10:00', worker_id: worker, client_id: client, ms: '1200000', pieces: 1 },
      { currency: 'INR', hour: '11:00', worker_id: worker, client_id: client, ms: '720000', pieces: 2 },
    ]);

    expect((await migrator.migrateTo(before)).error).toBeUndefined();
    expect((await sql<{ t: string | null }>`SELECT to_regclass('settlement_work_hours')::text AS t`.execute(db)).rows[0]!.t).toBeNull();
  });
});
