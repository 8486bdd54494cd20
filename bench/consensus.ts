// `pnpm bench consensus [--tasks N]` (or BENCH_CONSENSUS_TASKS; default 100,000): decides N tasks × 3
// annotations (one single-choice control, 10 labels) by majority vote and by Dawid–Skene through the
// qa-sampling consumer path, next to one SQL GROUP BY over the same answers in the same run:
//
//  1. GROUP BY: `SELECT task_id, label, count(*) … GROUP BY task_id, label` over the job's answers.
//  2. The consumer's handlers (the code BullMQ calls, group-committed into set-based batches, no Redis):
//     every `assignment.submitted` of the job handed in, timed until the last decision committed.
//  3. (BENCH_CONSENSUS_BULLMQ=1, the default) the same through the outbox, the relay and BullMQ to an
//     in-process consumer, on a third job (majority).
//  4. Decision latency at a steady 500 submissions/s (BENCH_CONSENSUS_RATE, for BENCH_CONSENSUS_SECONDS,
//     default 10): each submission's event is published through the outbox at its moment; a poller
//     (every 20 ms) stamps when each task's decision becomes visible; latency = visible − the publish of
//     the task's last answer.
//
// Bars (issue 11): majority ≤ 3× the GROUP BY, Dawid–Skene ≤ 10×, a decision visible within 1 s at 500
// submissions/s. The answers come from a synthetic crowd (BENCH_CONSENSUS_WORKERS, default 30, a third
// answering at random, the rest right 80% of the time), so each method's accuracy is printed too.
// It uses its own database (dropped at the end) and Redis prefix.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, migrateToLatest, sql, withDatabase, type Db } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { createConsumer, createRedis, OutboxRelay, publish } from '@fairlabel/queues';
import { qaHandlers } from '../services/qa-sampling/src/qa.consumer.js';

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TASKS = Number(flag('tasks') ?? process.env.BENCH_CONSENSUS_TASKS ?? 100_000);
const WORKERS = Number(process.env.BENCH_CONSENSUS_WORKERS ?? 30);
const BULLMQ = (process.env.BENCH_CONSENSUS_BULLMQ ?? '1') === '1';
const RATE = Number(process.env.BENCH_CONSENSUS_RATE ?? 500);
const RATE_SECONDS = Number(process.env.BENCH_CONSENSUS_SECONDS ?? 10);
/** Keep the database (its name is printed) to look at plans afterwards. */
const KEEP = process.env.BENCH_CONSENSUS_KEEP === '1';
const LABELS = 10;

const CLIENT = '00000000-0000-4000-8000-0000000000c1';
const VENDOR = '00000000-0000-4000-8000-0000000000f1';
const jobId = (n: number) => `00000000-0000-4000-a000-${n.toString(16).padStart(12, '0')}`;
const config = { version: 2, objects: [{ name: 'item', type: 'text', value: '$text' }], controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: Array.from({ length: LABELS }, (_, k) => `L${k}`), multiple: false, required: true, per_region: false }] };

const seconds = (ms: number) => (ms / 1000).toFixed(2);
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** A job of `tasks` tasks, each answered by 3 of the workers (submitted, awaiting QA). Truth of task t: label t % 10. */
async function seedJob(db: Db, n: number, method: string, tasks: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(trx);
    await sql`
      INSERT INTO jobs (id, client_id, name, task_type, label_config, pay_per_annotation, client_price_per_item, currency, overlap, status, qa_policy)
      VALUES (${jobId(n)}, ${CLIENT}, ${`bench ${method}`}, 'classification', ${JSON.stringify(config)}, 5, 20, 'USD', 3, 'active', ${JSON.stringify({ consensus_method: method })})`.execute(trx);
    await sql`
      INSERT INTO tasks (job_id, external_id, payload, required_annotations)
      SELECT ${jobId(n)}::uuid, 't' || g, jsonb_build_object('text', 'item ' || g), 3 FROM generate_series(1, ${tasks}::int) g`.execute(trx);
    // Worker w answers at random when w % 3 = 0, otherwise right 80% of the time (a uniform wrong label otherwise).
    await sql`
      INSERT INTO assignments (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at, submitted_at, ended_at, time_spent_ms, answer)
      SELECT t.id, t.job_id, w.id, w.vendor_id, 'submitted', now(), now() + interval '1 hour', now(), now(), 5000,
             jsonb_build_object('label', jsonb_build_object('choices', jsonb_build_array('L' || (CASE
               WHEN w.n % 3 = 0 THEN floor(random() * ${LABELS})::int
               WHEN random() < 0.8 THEN t.id % ${LABELS}
               ELSE (t.id % ${LABELS} + 1 + floor(random() * ${LABELS - 1})::int) % ${LABELS} END))))
      FROM tasks t CROSS JOIN generate_series(0, 2) k
      JOIN (SELECT id, vendor_id, row_number() OVER (ORDER BY id) - 1 AS n FROM workers) w ON w.n = (t.id + k * 7) % ${WORKERS}::int
      WHERE t.job_id = ${jobId(n)}::uuid
      ORDER BY t.id, k`.execute(trx);
  });
}

async function eventsOf(db: Db, n: number) {
  const rows = await sql<{ assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string }>`
    SELECT id AS assignment_id, task_id, job_id, worker_id, vendor_id FROM assignments WHERE job_id = ${jobId(n)}::uuid ORDER BY task_id, id`.execute(db);
  return rows.rows;
}

async function decidedCount(db: Db, n: number): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM qa_task_decisions WHERE job_id = ${jobId(n)}::uuid`.execute(db);
  return r.rows[0]!.n;
}

async function accuracyOf(db: Db, n: number): Promise<number> {
  const r = await sql<{ right: number; total: number }>`
    SELECT count(*) FILTER (WHERE d.result->'label'->'choices'->>0 = 'L' || (d.task_id % ${LABELS}))::int AS right, count(*)::int AS total
    FROM qa_task_decisions d WHERE d.job_id = ${jobId(n)}::uuid`.execute(db);
  return r.rows[0]!.right / Math.max(1, r.rows[0]!.total);
}

async function groupBy(db: Db, n: number): Promise<number> {
  const r = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM (
      SELECT task_id, answer->'label'->'choices'->>0 AS label, count(*) FROM assignments WHERE job_id = ${jobId(n)}::uuid GROUP BY task_id, label) g`.execute(db);
  return r.rows[0]!.n;
}

async function main(): Promise<void> {
  const base = loadConfig();
  const database = `fairlabel_bench_consensus_${randomBytes(3).toString('hex')}`;
  const prefix = `flbench:consensus:${randomBytes(3).toString('hex')}`;
  const url = withDatabase(base.DATABASE_URL, database);
  const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const pool = createPool(url, 8);
  const db = createDb(pool);
  const logger = createLogger({ level: 'warn', name: 'bench' });
  const redis = createRedis(base.REDIS_URL);
  const clock = { now: () => new Date() };
  try {
    await migrateToLatest(db);
    console.log(`consensus bench: ${TASKS.toLocaleString()} tasks × 3 annotations per method, ${LABELS} labels, ${WORKERS} workers`);
    const seed = await timed(async () => {
      await db.transaction().execute(async (trx) => {
        await sql`SET LOCAL session_replication_role = replica`.execute(trx);
        await sql`INSERT INTO organizations (id, name, kind) VALUES (${CLIENT}, 'bench client', 'client'), (${VENDOR}, 'bench vendor', 'vendor')`.execute(trx);
        await sql`
          INSERT INTO workers (vendor_id, display_name, region_country, city_tier, area)
          SELECT ${VENDOR}::uuid, 'w' || w, 'IN', 1, 'urban' FROM generate_series(1, ${WORKERS}::int) w`.execute(trx);
      });
      await seedJob(db, 1, 'majority', TASKS);
      await seedJob(db, 2, 'dawid_skene', TASKS);
      if (BULLMQ) await seedJob(db, 3, 'majority', TASKS);
      await seedJob(db, 4, 'majority', Math.ceil((RATE * RATE_SECONDS) / 3));
      await sql`ANALYZE`.execute(db);
    });
    console.log(`seeded in ${seconds(seed.ms)} s`);

    // 1. The baseline, twice (the first warms the cache), over the majority job's answers.
    await groupBy(db, 1);
    const gb = await timed(() => groupBy(db, 1));
    console.log(`GROUP BY over ${(3 * TASKS).toLocaleString()} answers: ${seconds(gb.ms)} s (${gb.value.toLocaleString()} groups)`);

    // 2. Through the consumer's handlers.
    const viaHandlers = async (n: number) => {
      const events = await eventsOf(db, n);
      const { handlers } = qaHandlers({ db, clock, logger }, 1000);
      const submitted = handlers['assignment.submitted']!;
      const ctx = { jobId: 'bench', attempt: 1, log: logger };
      return timed(async () => {
        const WINDOW = 4000;
        let next = 0;
        const lane = async () => {
          while (next < events.length) await submitted(events[next++]!, ctx);
        };
        await Promise.all(Array.from({ length: WINDOW }, lane));
      });
    };
    const mv = await viaHandlers(1);
    const mvDecided = await decidedCount(db, 1);
    const ds = await viaHandlers(2);
    const dsDecided = await decidedCount(db, 2);
    const ratio = (ms: number) => (ms / gb.ms).toFixed(1);
    console.log(`majority through the consumer's handlers: ${seconds(mv.ms)} s, ${mvDecided.toLocaleString()} tasks decided — ${ratio(mv.ms)}× the GROUP BY (bar ≤ 3×); accuracy ${(await accuracyOf(db, 1)).toFixed(3)}`);
    console.log(`Dawid–Skene (incremental) through the consumer's handlers: ${seconds(ds.ms)} s, ${dsDecided.toLocaleString()} tasks decided — ${ratio(ds.ms)}× the GROUP BY (bar ≤ 10×); accuracy ${(await accuracyOf(db, 2)).toFixed(3)}`);

    // 3 and 4: the outbox, the relay, BullMQ, the consumer. The decisions above left their events in the
    // outbox for consumers this bench does not run; a running stack's relay would have moved them long
    // ago, so they are dropped rather than relayed ahead of what is measured next.
    await sql`DELETE FROM outbox`.execute(db);
    const relay = new OutboxRelay({ db, databaseUrl: url, redis, prefix, logger, pollMs: 50 });
    const consumerConnection = redis.duplicate();
    const consumer = createConsumer({ queue: 'qa-sampling', handlers: qaHandlers({ db, clock, logger }, 1000).handlers, connection: consumerConnection, prefix, logger, concurrency: 512 });
    await relay.start();
    try {
      if (BULLMQ) {
        const full = await timed(async () => {
          await sql`
            INSERT INTO outbox (event, queue, payload)
            SELECT 'assignment.submitted', 'qa-sampling', jsonb_build_object('assignment_id', id, 'task_id', task_id, 'job_id', job_id, 'worker_id', worker_id, 'vendor_id', vendor_id)
            FROM assignments WHERE job_id = ${jobId(3)}::uuid ORDER BY task_id, id`.execute(db);
          await sql`SELECT pg_notify('fairlabel_outbox', '')`.execute(db);
          while ((await decidedCount(db, 3)) < TASKS) await new Promise((r) => setTimeout(r, 100));
        });
        console.log(`majority through the outbox, relay, BullMQ and the consumer: ${seconds(full.ms)} s — ${ratio(full.ms)}× the GROUP BY`);
      }

      const events = await eventsOf(db, 4);
      const lastPublish = new Map<number, number>();
      const visible = new Map<number, number>();
      let polling = true;
      const poller = (async () => {
        let after = 0;
        while (polling) {
          const rows = await sql<{ id: number; task_id: number }>`SELECT id, task_id FROM qa_task_decisions WHERE job_id = ${jobId(4)}::uuid AND id > ${after} ORDER BY id`.execute(db);
          const now = performance.now();
          for (const r of rows.rows) {
            visible.set(r.task_id, now);
            after = Math.max(after, r.id);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      // Each submission is published at its moment by one of 8 publishers (as concurrent submits would
      // be), so a slow commit delays only its own.
      const start = performance.now();
      let next = 0;
      const publisher = async () => {
        for (;;) {
          const i = next++;
          if (i >= events.length) return;
          const wait = start + (i * 1000) / RATE - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const e = events[i]!;
          await db.transaction().execute((trx) => publish(trx, 'assignment.submitted', e));
          lastPublish.set(e.task_id, Math.max(lastPublish.get(e.task_id) ?? 0, performance.now()));
        }
      };
      await Promise.all(Array.from({ length: 8 }, publisher));
      const achieved = events.length / ((performance.now() - start) / 1000);
      const deadline = performance.now() + 30_000;
      while (visible.size < lastPublish.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      polling = false;
      await poller;
      const lat = [...lastPublish].filter(([t]) => visible.has(t)).map(([t, at]) => visible.get(t)! - at).sort((a, b) => a - b);
      console.log(
        `latency at ${achieved.toFixed(0)} submissions/s (${events.length.toLocaleString()} submissions, ${lastPublish.size} tasks, ${visible.size} decided): ` +
          `last answer published → decision visible p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${(lat.at(-1) ?? NaN).toFixed(0)} ms (bar: within 1 s; poll granularity 20 ms)`,
      );
    } finally {
      await consumer.close();
      await consumerConnection.quit();
      await relay.stop();
    }
  } finally {
    await pool.end();
    redis.disconnect();
    if (KEEP) console.log(`kept database ${database}`);
    else await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
