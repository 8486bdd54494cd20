// The scratch database of the claim benchmark: created, migrated with the real migrations, seeded
// with set-based SQL (generate_series) so 10,000,000 tasks take minutes, and dropped at the end.
import pg from 'pg';
import { createDb, createPool, migrateToLatest, withDatabase } from '@fairlabel/db';
import { generateApiKey } from '@fairlabel/http';
import type { BenchOptions } from './options.js';
import { PGBOSS_SCHEMA } from './pg-boss.js';

export const LABELS = ['cat', 'dog', 'other'] as const;

/** The bench jobs' v2 label config: one choices control `label` (answers `{label: {choices: [..]}}`). */
export function classificationConfig(choices: readonly string[]) {
  return {
    version: 2,
    objects: [{ name: 'item', type: 'text', value: '$text' }],
    controls: [{ name: 'label', type: 'choices', to_name: 'item', choices, multiple: false, required: true, per_region: false }],
  };
}
const SKILL = 'image_cls';
/** Tasks per INSERT statement: bounds the statement trigger's transition table. */
const TASKS_PER_STATEMENT = 250_000;
/** Seeding connections; the machine has 2 cores. */
const SEED_CONNECTIONS = 2;

export interface SeededWorker {
  id: string;
  key: string;
}

export interface Seeded {
  url: string;
  clientId: string;
  vendorId: string;
  workers: SeededWorker[];
  seedSeconds: number;
  tableSizes: { table: string; rows: number; size: string }[];
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(opts: BenchOptions): Promise<void> {
  await withAdmin(opts.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(opts.database)} WITH (FORCE)`));
}

export async function createScratchDatabase(opts: BenchOptions): Promise<string> {
  await dropDatabase(opts);
  await withAdmin(opts.adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(opts.database)}`));
  const url = withDatabase(opts.adminUrl, opts.database);
  const pool = createPool(url, 2);
  const db = createDb(pool);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return url;
}

/**
 * A database an earlier run seeded and kept (BENCH_SEED_ONLY=1, or BENCH_KEEP_DATABASE=1), for
 * BENCH_REUSE_DATABASE=1: migrated to the current code (changed SQL files are re-applied), its workers
 * given fresh API keys (only hashes are stored, so the old keys are unknown), nothing else touched.
 * So a 10M-task seeding can run ahead of the measurement. Null when the database does not exist or
 * holds no bench job.
 */
export async function reuseSeeded(opts: BenchOptions): Promise<Seeded | null> {
  const exists = await withAdmin(opts.adminUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database])).rowCount === 1);
  if (!exists) return null;
  const started = performance.now();
  const url = withDatabase(opts.adminUrl, opts.database);
  const db = createDb(createPool(url, 2));
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const one = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<R>(text, values)).rows;
    const [client] = await one<{ id: string }>(`SELECT id FROM organizations WHERE name = 'bench client'`);
    const [vendor] = await one<{ id: string }>(`SELECT id FROM organizations WHERE name = 'bench vendor'`);
    if (!client || !vendor) return null;
    const workerRows = await one<{ id: string }>(`SELECT id FROM workers WHERE vendor_id = $1 ORDER BY display_name COLLATE "C"`, [vendor.id]);
    const keys = workerRows.map(() => generateApiKey());
    await one(`DELETE FROM api_keys WHERE organization_id = $1 AND name = 'bench'`, [vendor.id]);
    // pg-boss starts from an empty schema, as on a fresh database: an earlier run's queues (their jobs
    // left queued, completed and archived) slowed baseline (b) to ~90 jobs/s on a third reuse (2026-11-30),
    // which flattered the ratio against it.
    await one(`DROP SCHEMA IF EXISTS ${PGBOSS_SCHEMA} CASCADE`);
    await one(
      `INSERT INTO api_keys (organization_id, role, worker_id, prefix, key_hash, name)
       SELECT $1, 'worker', w, p, h, 'bench' FROM unnest($2::uuid[], $3::text[], $4::bytea[]) AS k(w, p, h)`,
      [vendor.id, workerRows.map((w) => w.id), keys.map((k) => k.prefix), keys.map((k) => k.hash)],
    );
    await one('CHECKPOINT');
    const tableSizes = await one<{ table: string; rows: number; size: string }>(
      `SELECT c.relname AS table, c.reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(c.oid)) AS size
       FROM pg_class c WHERE c.relname IN ('tasks', 'task_slots', 'jobs', 'assignments') ORDER BY c.relname`,
    );
    return {
      url,
      clientId: client.id,
      vendorId: vendor.id,
      workers: workerRows.map((w, i) => ({ id: w.id, key: keys[i]!.key })),
      seedSeconds: (performance.now() - started) / 1000,
      tableSizes: tableSizes.map((t) => ({ ...t, rows: Number(t.rows) })),
    };
  } finally {
    await pool.end();
  }
}

/** Splits `total` tasks over `jobs` jobs as [jobIndex, count] runs of at most TASKS_PER_STATEMENT. */
function taskChunks(total: number, jobs: number): { job: number; from: number; to: number }[] {
  const chunks: { job: number; from: number; to: number }[] = [];
  const per = Math.floor(total / jobs);
  const extra = total % jobs;
  for (let j = 0; j < jobs; j++) {
    const n = per + (j < extra ? 1 : 0);
    for (let from = 1; from <= n; from += TASKS_PER_STATEMENT) chunks.push({ job: j, from, to: Math.min(n, from + TASKS_PER_STATEMENT - 1) });
  }
  return chunks;
}

/**
 * Everything a claim needs: a client and a vendor, `workers` active workers with the job's skill at
 * level 3 and a worker API key each (hash stored, key kept for the load driver), `jobs` active
 * classification jobs with the given overlap (priorities 0–4 and staggered deadlines, so the claim's
 * ordering has work to do), and the tasks. task_slots / job_slot_totals are filled by the
 * worker-assignment migration's insert trigger, exactly as an import would.
 */
export async function seed(opts: BenchOptions, url: string): Promise<Seeded> {
  const started = performance.now();
  const pool = new pg.Pool({ connectionString: url, max: SEED_CONNECTIONS });
  try {
    const one = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<R>(text, values)).rows;
    const [client] = await one<{ id: string }>(`INSERT INTO organizations (name, kind) VALUES ('bench client', 'client') RETURNING id`);
    const [vendor] = await one<{ id: string }>(`INSERT INTO organizations (name, kind) VALUES ('bench vendor', 'vendor') RETURNING id`);
    const workerRows = await one<{ id: string }>(
      `INSERT INTO workers (vendor_id, display_name, region_country, region_province, city_tier, area)
       SELECT $1, 'bench worker ' || g, 'IN', 'KA', 1 + g % 5, CASE WHEN g % 2 = 0 THEN 'rural' ELSE 'urban' END
       FROM generate_series(1, $2::int) g ORDER BY g RETURNING id`,
      [vendor!.id, Math.max(opts.workers, opts.openRate > 0 ? opts.openWorkers : 0)],
    );
    await one(`INSERT INTO worker_skills (worker_id, skill, level, source) SELECT id, $1, 3, 'vendor' FROM workers`, [SKILL]);
    const keys = workerRows.map(() => generateApiKey());
    await one(
      `INSERT INTO api_keys (organization_id, role, worker_id, prefix, key_hash, name)
       SELECT $1, 'worker', w, p, h, 'bench' FROM unnest($2::uuid[], $3::text[], $4::bytea[]) AS k(w, p, h)`,
      [vendor!.id, workerRows.map((w) => w.id), keys.map((k) => k.prefix), keys.map((k) => k.hash)],
    );
    const jobIds = (
      await one<{ id: string }>(
        `INSERT INTO jobs (client_id, name, task_type, label_config, instructions, required_skill, min_level, overlap,
                           pay_per_annotation, client_price_per_item, currency, priority, deadline, status, activated_at)
         SELECT $1, 'bench job ' || g, 'classification', $2::jsonb, 'Pick the label that fits best.', $3, 1, $4,
                5, 20, 'USD', g % 5, now() + make_interval(hours => g), 'active', now()
         FROM generate_series(1, $5::int) g ORDER BY g RETURNING id`,
        [client!.id, JSON.stringify(classificationConfig(LABELS)), SKILL, opts.overlap, opts.jobs],
      )
    ).map((r) => r.id);

    const queue = taskChunks(opts.tasks, opts.jobs);
    const insertChunk = async (c: { job: number; from: number; to: number }) => {
      await pool.query(
        `INSERT INTO tasks (job_id, external_id, payload, required_annotations)
         SELECT $1, 'item-' || g, jsonb_build_object('text', 'bench item ' || g), $2
         FROM generate_series($3::int, $4::int) g`,
        [jobIds[c.job], opts.overlap, c.from, c.to],
      );
    };
    let next = 0;
    let done = 0;
    let lastReport = performance.now();
    await Promise.all(
      Array.from({ length: SEED_CONNECTIONS }, async () => {
        while (next < queue.length) {
          const chunk = queue[next++]!;
          await insertChunk(chunk);
          done += chunk.to - chunk.from + 1;
          if (performance.now() - lastReport > 15_000) {
            lastReport = performance.now();
            console.log(`  seeded ${done.toLocaleString('en-US')} / ${opts.tasks.toLocaleString('en-US')} tasks (${((performance.now() - started) / 1000).toFixed(0)} s)`);
          }
        }
      }),
    );
    // What autovacuum would have done on a live system: statistics for the planner and a visibility map.
    await pool.query('VACUUM (ANALYZE) tasks, task_slots, job_slot_totals, jobs, workers, worker_skills, api_keys, assignments');
    // Start every measured phase just after a checkpoint, so a checkpoint the seeding's WAL would
    // otherwise trigger at a random moment (and the full-page writes after it) does not land in one
    // run's window and not in another's.
    await pool.query('CHECKPOINT');
    const tableSizes = await one<{ table: string; rows: number; size: string }>(
      `SELECT c.relname AS table, c.reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(c.oid)) AS size
       FROM pg_class c WHERE c.relname IN ('tasks', 'task_slots', 'jobs') ORDER BY c.relname`,
    );
    return {
      url,
      clientId: client!.id,
      vendorId: vendor!.id,
      workers: workerRows.map((w, i) => ({ id: w.id, key: keys[i]!.key })),
      seedSeconds: (performance.now() - started) / 1000,
      tableSizes: tableSizes.map((t) => ({ ...t, rows: Number(t.rows) })),
    };
  } finally {
    await pool.end();
  }
}
