// The seed the settlement benchmarks share (bench/settlement.ts, bench/settlement-ab.ts): one client,
// 10 vendors with a 10 % commission contract, `workers` workers, `jobs` active jobs, and `assignments`
// accepted assignments (three per task, spread over the workers), an hour old, with no outbox rows.
import { sql, type Db } from '@fairlabel/db';

/**
 * The `assignment.decided` payload of an accepted assignment `a` (a SQL expression over the
 * assignments row aliased `a`), as QA would publish it: one shape for the outbox rows, the direct SQL
 * path and the A/B script, so every path posts the same decisions.
 */
export const decidedPayload = sql`jsonb_build_object(
  'decision_id', a.id, 'assignment_id', a.id, 'task_id', a.task_id, 'job_id', a.job_id,
  'client_id', '00000000-0000-4000-8000-0000000000c1', 'worker_id', a.worker_id, 'vendor_id', a.vendor_id,
  'outcome', 'accepted', 'kind', 'annotation', 'worker_level', 1 + a.id % 5, 'supersedes_decision_id', NULL,
  'decided_at', to_char(a.decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

export async function seedSettlementBench(db: Db, sizes: { workers: number; jobs: number; assignments: number }): Promise<void> {
  const { workers, jobs, assignments } = sizes;
  await db.transaction().execute(async (trx) => {
    // Seeding only: skip the per-row slot triggers and foreign-key checks (a superuser setting).
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    await sql`INSERT INTO organizations (id, name, kind) VALUES ('00000000-0000-4000-8000-0000000000c1', 'bench client', 'client')`.execute(trx);
    await sql`
      INSERT INTO organizations (id, name, kind)
      SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(v), 12, '0'))::uuid, 'bench vendor ' || v, 'vendor' FROM generate_series(1, 10) v`.execute(trx);
    await sql`INSERT INTO vendor_contracts (vendor_id, effective_from, commission_bp) SELECT id, '2020-01-01', 1000 FROM organizations WHERE kind = 'vendor'`.execute(trx);
    await sql`
      INSERT INTO workers (id, vendor_id, display_name, region_country, region_province, city_tier, area)
      SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(w), 12, '0'))::uuid,
             ('00000000-0000-4000-8000-' || lpad(to_hex(1 + w % 10), 12, '0'))::uuid, 'w' || w, 'IN', 'KA', 1 + w % 5, 'urban'
      FROM generate_series(1, ${workers}::int) w`.execute(trx);
    await sql`
      INSERT INTO jobs (id, client_id, name, task_type, label_config, pay_per_annotation, client_price_per_item, currency, overlap, status)
      SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(j), 12, '0'))::uuid, '00000000-0000-4000-8000-0000000000c1', 'job ' || j,
             'classification', '{"labels":["a","b"]}', 50 + j % 50, 400, 'USD', 3, 'active'
      FROM generate_series(1, ${jobs}::int) j`.execute(trx);
    await sql`
      INSERT INTO tasks (job_id, external_id, payload, required_annotations)
      SELECT ('00000000-0000-4000-a000-' || lpad(to_hex(1 + t % ${jobs}::int), 12, '0'))::uuid, 't' || t, '{}', 3
      FROM generate_series(1, ${Math.ceil(assignments / 3)}::int) t`.execute(trx);
    await sql`
      INSERT INTO assignments (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at, submitted_at, ended_at, time_spent_ms, decided_at, answer)
      SELECT t.id, t.job_id, w.id, w.vendor_id, 'accepted', now() - interval '2 hours', now() - interval '1 hour', now() - interval '90 minutes',
             now() - interval '90 minutes', 60000, now() - interval '1 hour', '{"label":"a"}'
      FROM tasks t CROSS JOIN generate_series(0, 2) k
      JOIN workers w ON w.id = ('00000000-0000-4000-9000-' || lpad(to_hex(1 + ((t.id * 3 + k) % ${workers}::int)), 12, '0'))::uuid
      ORDER BY t.id, k LIMIT ${assignments}::int`.execute(trx);
  });
  // Statistics of the seeded tables only: the ledger tables fill during the run (stale "empty"
  // statistics of them would mislead the planner in a way a running system's autovacuum does not).
  await sql`ANALYZE organizations, workers, jobs, tasks, assignments, vendor_contracts`.execute(db);
}
