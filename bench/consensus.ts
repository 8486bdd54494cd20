// `pnpm bench consensus [--tasks N]` (or BENCH_CONSENSUS_TASKS; default 100,000): decides N tasks × 3
// annotations (one single-choice control, 10 labels) by majority vote and by Dawid–Skene through the
// qa-sampling consumer path, next to one SQL GROUP BY over the same answers in the same run:
//
//  1. GROUP BY: `SELECT task_id, label, count(*) … GROUP BY task_id, label` over the job's answers; and
//     the write floor: one INSERT … SELECT of exactly the rows the decisions must write (task decisions,
//     assignment decisions, their outbox rows) from the same answers, into empty copies of the tables.
//  2. The consumer's handlers (the code BullMQ calls, group-committed into set-based batches, no Redis):
//     every `assignment.submitted` of the job handed in, timed until the last decision committed.
//  3. (BENCH_CONSENSUS_BULLMQ=1, the default) the same through the outbox, the relay and BullMQ to an
//     in-process consumer, on a third job (majority).
//  4. Decision latency at a steady 500 submissions/s offered (BENCH_CONSENSUS_RATE, for
//     BENCH_CONSENSUS_SECONDS, default 10), open loop: every 10 ms the submissions due are published
//     through the outbox in one transaction (as the gateway's submit group commit does); a poller (every
//     20 ms) stamps when each task's decision becomes visible; latency = visible − when the task's last
//     answer was due (so a publisher falling behind counts against the bar instead of hiding it). It
//     starts once the relay has sent what step 3 left in the outbox, and the decisions' own events
//     travel through the same relay while it runs, as in a running stack.
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
import { queuesFor } from '@fairlabel/contracts';
import { createConsumer, createRedis, OutboxRelay, publishMany, type OutboxEvent } from '@fairlabel/queues';
import { qaHandlers } from '../services/qa-sampling/src/qa.consumer.js';
import { categoricalFromRows, dawidSkene } from '../services/qa-sampling/src/aggregate/index.js';

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TASKS = Number(flag('tasks') ?? process.env.BENCH_CONSENSUS_TASKS ?? 100_000);
const WORKERS = Number(process.env.BENCH_CONSENSUS_WORKERS ?? 30);
const BULLMQ = (process.env.BENCH_CONSENSUS_BULLMQ ?? '1') === '1';
const RATE = Number(process.env.BENCH_CONSENSUS_RATE ?? 500);
const RATE_SECONDS = Number(process.env.BENCH_CONSENSUS_SECONDS ?? 10);
const RELAYS = Number(process.env.BENCH_CONSENSUS_RELAYS ?? 1);
/** Keep the database (its name is printed) to look at plans afterwards. */
const KEEP = process.env.BENCH_CONSENSUS_KEEP === '1';
/** Stop after the GROUP BY and the floors (the bar's arithmetic at 100,000 tasks in a minute). */
const FLOORS_ONLY = process.env.BENCH_CONSENSUS_FLOORS_ONLY === '1';
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
      -- Three distinct workers per task from a hash of the task (offsets 0, 7, 14: one of them answers at
      -- random), not from t.id itself: with w = t.id + 7k the worker set fixed the task's truth (t.id % 10),
      -- each worker saw only three true classes, and Dawid–Skene learnt that confound instead of the workers.
      JOIN (SELECT id, vendor_id, row_number() OVER (ORDER BY id) - 1 AS n FROM workers) w ON w.n = (abs(hashint8(t.id)) + k * 7) % ${WORKERS}::int
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

/**
 * The plain-SQL write floor: one INSERT … SELECT of exactly the rows deciding the job's tasks must write
 * — a task decision per task (the majority label of the GROUP BY), an assignment decision per answer
 * (accepted when it agrees), and their outbox rows (assignment.decided and task.decided, one row per
 * subscribing queue, with the events' payloads) — into empty copies of those tables with their indexes,
 * no triggers, in one transaction. Then, separately, the bookkeeping the consumer also writes to decide
 * exactly once (a qa_submissions row per answer, a qa_tasks row per task). No consumer can write less.
 */
async function writeFloor(db: Db, n: number): Promise<{ decisions: { ms: number; rows: number }; bookkeeping: { ms: number; rows: number } }> {
  await sql`
    DROP TABLE IF EXISTS floor_task_decisions, floor_assignment_decisions, floor_outbox, floor_submissions, floor_tasks;
    CREATE TABLE floor_task_decisions (LIKE qa_task_decisions INCLUDING ALL);
    CREATE TABLE floor_assignment_decisions (LIKE qa_assignment_decisions INCLUDING ALL);
    CREATE TABLE floor_outbox (LIKE outbox INCLUDING ALL);
    CREATE TABLE floor_submissions (LIKE qa_submissions INCLUDING ALL);
    CREATE TABLE floor_tasks (LIKE qa_tasks INCLUDING ALL);`.execute(db);
  const adQueues = queuesFor('assignment.decided');
  const tdQueues = queuesFor('task.decided');
  const decisions = await timed(() =>
    db.transaction().execute(async (trx) => {
      await sql`SET LOCAL jit = off`.execute(trx);
      const r = await sql<{ td: number; ad: number; ob: number }>`
        WITH votes AS (
          SELECT task_id, answer->'label'->'choices'->>0 AS label, count(*)::int AS n FROM assignments WHERE job_id = ${jobId(n)}::uuid GROUP BY task_id, label
        ), win AS (
          SELECT DISTINCT ON (task_id) task_id, label, n FROM votes ORDER BY task_id, n DESC, label
        ), td AS (
          INSERT INTO floor_task_decisions (task_id, job_id, client_id, result, agreement, confidence, method, annotations, decided_at)
          SELECT w.task_id, ${jobId(n)}::uuid, ${CLIENT}::uuid, jsonb_build_object('label', jsonb_build_object('choices', jsonb_build_array(w.label))), w.n / 3.0, w.n / 3.0, 'majority', 3, now()
          FROM win w
          RETURNING id, task_id, job_id, client_id, agreement, decided_at, result->'label'->'choices'->>0 AS label
        ), ad AS (
          INSERT INTO floor_assignment_decisions (assignment_id, task_id, job_id, client_id, worker_id, vendor_id, task_decision_id, outcome, kind, score, reason, worker_level, decided_at)
          SELECT a.id, a.task_id, a.job_id, td.client_id, a.worker_id, a.vendor_id, td.id,
                 CASE WHEN a.answer->'label'->'choices'->>0 = td.label THEN 'accepted' ELSE 'rejected' END, 'annotation',
                 CASE WHEN a.answer->'label'->'choices'->>0 = td.label THEN 1 ELSE 0 END,
                 CASE WHEN a.answer->'label'->'choices'->>0 = td.label THEN 'agrees with the consensus' ELSE 'disagrees with the consensus' END, NULL, td.decided_at
          FROM td JOIN assignments a ON a.task_id = td.task_id
          RETURNING id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, outcome, kind, decided_at
        ), ob AS (
          INSERT INTO floor_outbox (event, queue, payload)
          SELECT 'assignment.decided', q, jsonb_build_object('decision_id', ad.id, 'assignment_id', ad.assignment_id, 'task_id', ad.task_id, 'job_id', ad.job_id,
                   'client_id', ad.client_id, 'worker_id', ad.worker_id, 'vendor_id', ad.vendor_id, 'outcome', ad.outcome, 'kind', ad.kind, 'worker_level', NULL,
                   'supersedes_decision_id', NULL, 'decided_at', ad.decided_at)
          FROM ad CROSS JOIN unnest(${adQueues}::text[]) q
          UNION ALL
          SELECT 'task.decided', q, jsonb_build_object('task_id', td.task_id, 'job_id', td.job_id, 'client_id', td.client_id, 'decision_id', td.id, 'agreement', td.agreement,
                   'automated', false, 'accepted_assignment_ids', j.accepted, 'rejected_assignment_ids', j.rejected, 'decided_at', td.decided_at)
          FROM td
          JOIN (SELECT task_id, coalesce(jsonb_agg(assignment_id) FILTER (WHERE outcome = 'accepted'), '[]') AS accepted,
                       coalesce(jsonb_agg(assignment_id) FILTER (WHERE outcome = 'rejected'), '[]') AS rejected
                FROM ad GROUP BY task_id) j ON j.task_id = td.task_id
          CROSS JOIN unnest(${tdQueues}::text[]) q
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM td)::int AS td, (SELECT count(*) FROM ad)::int AS ad, (SELECT count(*) FROM ob)::int AS ob`.execute(trx);
      return r.rows[0]!;
    }),
  );
  const bookkeeping = await timed(() =>
    db.transaction().execute(async (trx) => {
      await sql`SET LOCAL jit = off`.execute(trx);
      const r = await sql<{ s: number; t: number }>`
        WITH s AS (
          INSERT INTO floor_submissions (assignment_id, task_id, job_id, worker_id, vendor_id, route, fast, time_spent_ms, received_at)
          SELECT id, task_id, job_id, worker_id, vendor_id, 'consensus', false, time_spent_ms, now() FROM assignments WHERE job_id = ${jobId(n)}::uuid
          RETURNING task_id, job_id
        ), t AS (
          INSERT INTO floor_tasks (task_id, job_id, submissions, decision_id) SELECT task_id, job_id, count(*), 1 FROM s GROUP BY task_id, job_id RETURNING 1
        )
        SELECT (SELECT count(*) FROM s)::int AS s, (SELECT count(*) FROM t)::int AS t`.execute(trx);
      return r.rows[0]!;
    }),
  );
  await sql`DROP TABLE floor_task_decisions, floor_assignment_decisions, floor_outbox, floor_submissions, floor_tasks`.execute(db);
  const d = decisions.value;
  return { decisions: { ms: decisions.ms, rows: d.td + d.ad + d.ob }, bookkeeping: { ms: bookkeeping.ms, rows: bookkeeping.value.s + bookkeeping.value.t } };
}

/**
 * The least any design could write to record the decisions: ONE row per task — its label, agreement
 * and the ids of its accepted and rejected assignments (what settlement needs to pay), keyed by the
 * task so a redelivery cannot decide twice — in one INSERT … SELECT from the same GROUP BY, no event,
 * no per-assignment row, no bookkeeping. If this alone is near 3× the GROUP BY, no consumer path that
 * makes decisions durable can meet the majority bar, whatever its schema.
 */
async function minimalRecordFloor(db: Db, n: number): Promise<{ ms: number; rows: number; labelOnlyMs: number }> {
  await sql`
    DROP TABLE IF EXISTS floor_minimal;
    CREATE TABLE floor_minimal (task_id bigint PRIMARY KEY, label text NOT NULL, agreement real NOT NULL, accepted bigint[] NOT NULL, rejected bigint[] NOT NULL)`.execute(db);
  const r = await timed(() =>
    db.transaction().execute(async (trx) => {
      await sql`SET LOCAL jit = off`.execute(trx);
      const out = await sql<{ n: number }>`
        WITH answers AS (
          SELECT id, task_id, answer->'label'->'choices'->>0 AS label FROM assignments WHERE job_id = ${jobId(n)}::uuid
        ), counted AS (
          SELECT id, task_id, label, count(*) OVER (PARTITION BY task_id, label) AS n FROM answers
        ), ranked AS (
          SELECT id, task_id, label, n, first_value(label) OVER (PARTITION BY task_id ORDER BY n DESC, label) AS winner FROM counted
        ), ins AS (
          INSERT INTO floor_minimal (task_id, label, agreement, accepted, rejected)
          SELECT task_id, min(winner), max(n) FILTER (WHERE label = winner) / 3.0,
                 array_agg(id) FILTER (WHERE label = winner), coalesce(array_agg(id) FILTER (WHERE label <> winner), '{}')
          FROM ranked GROUP BY task_id
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM ins`.execute(trx);
      return out.rows[0]!.n;
    }),
  );
  // Less still: the label alone, keyed by the task (settlement would have to re-derive who agreed).
  await sql`DROP TABLE floor_minimal; CREATE TABLE floor_minimal (task_id bigint PRIMARY KEY, label text NOT NULL)`.execute(db);
  const labelOnly = await timed(() =>
    db.transaction().execute(async (trx) => {
      await sql`SET LOCAL jit = off`.execute(trx);
      await sql`
        INSERT INTO floor_minimal (task_id, label)
        SELECT DISTINCT ON (task_id) task_id, label FROM (
          SELECT task_id, answer->'label'->'choices'->>0 AS label, count(*) AS n FROM assignments WHERE job_id = ${jobId(n)}::uuid GROUP BY task_id, label) v
        ORDER BY task_id, n DESC, label`.execute(trx);
    }),
  );
  await sql`DROP TABLE floor_minimal`.execute(db);
  return { ms: r.ms, rows: r.value, labelOnlyMs: labelOnly.ms };
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
    console.log(`consensus bench: ${TASKS.toLocaleString()} tasks × 3 annotations per method, ${LABELS} labels, ${WORKERS} workers, ${RELAYS} outbox relay(s)`);
    const seed = await timed(async () => {
      await db.transaction().execute(async (trx) => {
        await sql`SET LOCAL session_replication_role = replica`.execute(trx);
        await sql`INSERT INTO organizations (id, name, kind) VALUES (${CLIENT}, 'bench client', 'client'), (${VENDOR}, 'bench vendor', 'vendor')`.execute(trx);
        await sql`
          INSERT INTO workers (vendor_id, display_name, region_country, city_tier, area)
          SELECT ${VENDOR}::uuid, 'w' || w, 'IN', 1, 'urban' FROM generate_series(1, ${WORKERS}::int) w`.execute(trx);
      });
      await seedJob(db, 1, 'majority', TASKS);
      if (!FLOORS_ONLY) {
        await seedJob(db, 2, 'dawid_skene', TASKS);
        if (BULLMQ) await seedJob(db, 3, 'majority', TASKS);
        await seedJob(db, 4, 'majority', Math.ceil((RATE * RATE_SECONDS) / 3));
      }
      await sql`ANALYZE`.execute(db);
    });
    console.log(`seeded in ${seconds(seed.ms)} s`);

    // 1. The baseline, twice (the first warms the cache), over the majority job's answers.
    await groupBy(db, 1);
    const gb = await timed(() => groupBy(db, 1));
    console.log(`GROUP BY over ${(3 * TASKS).toLocaleString()} answers: ${seconds(gb.ms)} s (${gb.value.toLocaleString()} groups)`);
    const floor = await writeFloor(db, 1);
    const floorRatio = floor.decisions.ms / gb.ms;
    console.log(
      `write floor (INSERT … SELECT of the decision rows: ${floor.decisions.rows.toLocaleString()} task and assignment decisions and outbox rows): ${seconds(floor.decisions.ms)} s — ` +
        `${floorRatio.toFixed(1)}× the GROUP BY${floorRatio > 3 ? ': over 3× before any consensus, so the majority bar (≤ 3×) cannot be met as specified' : ''}`,
    );
    const minimal = await minimalRecordFloor(db, 1);
    console.log(
      `minimal record floor (one keyed row per task with its label, agreement and accepted/rejected assignment ids — the least any design writes): ` +
        `${seconds(minimal.ms)} s for ${minimal.rows.toLocaleString()} rows — ${(minimal.ms / gb.ms).toFixed(1)}× the GROUP BY; ` +
        `the label alone keyed by task: ${seconds(minimal.labelOnlyMs)} s — ${(minimal.labelOnlyMs / gb.ms).toFixed(1)}×`,
    );
    console.log(`  plus QA's exactly-once bookkeeping (${floor.bookkeeping.rows.toLocaleString()} qa_submissions and qa_tasks rows): ${seconds(floor.bookkeeping.ms)} s more — floor total ${seconds(floor.decisions.ms + floor.bookkeeping.ms)} s, ${((floor.decisions.ms + floor.bookkeeping.ms) / gb.ms).toFixed(1)}×`);
    if (FLOORS_ONLY) return;

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
    const ratio = (ms: number) => `${(ms / gb.ms).toFixed(1)}× the GROUP BY, ${(ms / floor.decisions.ms).toFixed(1)}× the write floor`;
    console.log(`majority through the consumer's handlers: ${seconds(mv.ms)} s, ${mvDecided.toLocaleString()} tasks decided — ${ratio(mv.ms)} (bar ≤ 3× the GROUP BY); accuracy ${(await accuracyOf(db, 1)).toFixed(3)}`);
    console.log(`Dawid–Skene (incremental) through the consumer's handlers: ${seconds(ds.ms)} s, ${dsDecided.toLocaleString()} tasks decided — ${ratio(ds.ms)} (bar ≤ 10× the GROUP BY); accuracy ${(await accuracyOf(db, 2)).toFixed(3)}`);

    // Full Dawid–Skene to convergence over the same job's answers (what a periodic re-estimation of the
    // job would run in the qa-sampling process): read every answer, EM until the log-likelihood settles.
    // Decisions already made are final; this says how much better a converged model labels the items.
    const full = await timed(async () => {
      const rows = await sql<{ item: string; worker: string; label: string }>`
        SELECT task_id::text AS item, worker_id::text AS worker, answer->'label'->'choices'->>0 AS label FROM assignments WHERE job_id = ${jobId(2)}::uuid`.execute(db);
      const built = categoricalFromRows(rows.rows, config.controls[0]!.choices);
      return { built, result: dawidSkene(built.data) };
    });
    let right = 0;
    full.value.built.items.forEach((item, i) => {
      if (full.value.built.labels[full.value.result.label[i]!] === `L${Number(item) % LABELS}`) right++;
    });
    console.log(
      `Dawid–Skene to convergence over the same answers (one full EM fit, read included): ${seconds(full.ms)} s, ${full.value.result.iterations} iterations — ${ratio(full.ms)} (bar ≤ 10× the GROUP BY); ` +
        `accuracy ${(right / Math.max(1, full.value.built.items.length)).toFixed(3)}`,
    );

    // 3 and 4: the outbox, the relay, BullMQ, the consumer. The decisions above left their events in the
    // outbox for consumers this bench does not run; a running stack's relay would have moved them long
    // ago, so they are dropped rather than relayed ahead of what is measured next.
    await sql`DELETE FROM outbox`.execute(db);
    // This server runs without autovacuum: the relay's scan of unsent rows would walk the dead index
    // entries of every row just deleted (millions at --tasks 100000) on each poll. A running stack's
    // relay sends them as they come, and autovacuum removes them.
    await sql`VACUUM ANALYZE outbox`.execute(db);
    // BENCH_CONSENSUS_RELAYS: relay instances (any number may run: each claims rows with SKIP LOCKED), to
    // see what a second drain in flight does to the latency when one relay falls behind.
    const relays = Array.from({ length: RELAYS }, () => new OutboxRelay({ db, databaseUrl: url, redis, prefix, logger, pollMs: 50 }));
    const consumerConnection = redis.duplicate();
    const consumer = createConsumer({ queue: 'qa-sampling', handlers: qaHandlers({ db, clock, logger }, 1000).handlers, connection: consumerConnection, prefix, logger, concurrency: 512 });
    for (const relay of relays) await relay.start();
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
        console.log(`majority through the outbox, relay, BullMQ and the consumer: ${seconds(full.ms)} s — ${ratio(full.ms)}`);
      }

      // Open loop: submission i is due at start + i/RATE whatever happens downstream. Every 10 ms the
      // submissions due are published in one transaction (as the gateway's submit group commit,
      // wa_submit_batch, writes the submits that arrive together), from a pool of their own, so the
      // offered rate holds on a loaded machine. Latency runs from when the task's last answer was DUE,
      // not from when it got published: a publisher that falls behind is counted, not hidden.
      const events = await eventsOf(db, 4);
      // The decisions of step 3 left ~13 outbox rows a task (their events for worker-assignment,
      // task-dispatch and settlement, whose consumers this bench does not run) that the relay is still
      // moving to Redis in id order; measured from here, the first second of submissions would queue
      // behind that backlog, which no steady stream has. So the relay drains it first.
      const unsent = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL`.execute(db)).rows[0]!.n;
      // Polled with EXISTS every 100 ms: a count(*) of a million unsent rows every 20 ms (100,000 tasks
      // leave ~1.3M) took a core from the relay it was waiting for.
      const anyUnsent = async () => (await sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL) AS any`.execute(db)).rows[0]!.any;
      const backlog = await unsent();
      const drained = await timed(async () => {
        while (await anyUnsent()) await new Promise((r) => setTimeout(r, 100));
      });
      console.log(`  (before the latency run: ${backlog.toLocaleString()} outbox rows of step 3 still unsent, drained by the relay in ${seconds(drained.ms)} s)`);
      const side = createDb(createPool(url, 4));
      const lastDue = new Map<number, number>();
      const lastPublished = new Map<number, number>();
      const visible = new Map<number, number>();
      let polling = true;
      const poller = (async () => {
        while (polling) {
          // Every decided task of the job, not "ids above the last seen": decision ids are taken when a
          // transaction inserts and become visible when it commits, so with transactions in flight
          // together a lower id can appear after a higher one.
          const rows = await sql<{ task_id: string }>`SELECT task_id FROM qa_task_decisions WHERE job_id = ${jobId(4)}::uuid`.execute(side);
          const now = performance.now();
          for (const r of rows.rows) if (!visible.has(Number(r.task_id))) visible.set(Number(r.task_id), now);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const start = performance.now();
      const dueAt = (i: number) => start + (i * 1000) / RATE;
      let next = 0;
      let publishLagMax = 0;
      while (next < events.length) {
        const now = performance.now();
        let upto = next;
        while (upto < events.length && dueAt(upto) <= now) upto++;
        if (upto > next) {
          const due = events.slice(next, upto);
          await side.transaction().execute((trx) => publishMany(trx, due.map((e): OutboxEvent => ({ event: 'assignment.submitted', payload: e }))));
          const published = performance.now();
          for (let i = next; i < upto; i++) {
            const t = events[i]!.task_id;
            lastDue.set(t, Math.max(lastDue.get(t) ?? 0, dueAt(i)));
            lastPublished.set(t, Math.max(lastPublished.get(t) ?? 0, published));
            publishLagMax = Math.max(publishLagMax, published - dueAt(i));
          }
          next = upto;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const offered = events.length / ((dueAt(events.length - 1) - start) / 1000 || 1);
      const achieved = events.length / ((performance.now() - start) / 1000);
      const deadline = performance.now() + 60_000;
      while (visible.size < lastDue.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      polling = false;
      await poller;
      await side.destroy();
      const decided = [...lastDue.keys()].filter((t) => visible.has(t));
      if (decided.length < lastDue.size) {
        // Say where the missing ones are: never recorded, recorded but short of answers, or decided unseen.
        const missing = [...lastDue.keys()].filter((t) => !visible.has(t));
        const where = await sql<{ recorded: number; short: number; decided: number }>`
          SELECT count(q.task_id)::int AS recorded, count(*) FILTER (WHERE q.decision_id IS NULL)::int AS short, count(d.id)::int AS decided
          FROM unnest(${missing}::bigint[]) AS m(id) LEFT JOIN qa_tasks q ON q.task_id = m.id LEFT JOIN qa_task_decisions d ON d.task_id = m.id`.execute(db);
        console.log(`  NOT DECIDED within 60 s: ${missing.length} tasks (${JSON.stringify(where.rows[0])})`);
      }
      const lat = decided.map((t) => visible.get(t)! - lastDue.get(t)!).sort((a, b) => a - b);
      const fromPublish = decided.map((t) => visible.get(t)! - lastPublished.get(t)!).sort((a, b) => a - b);
      const within1s = lat.filter((ms) => ms <= 1000).length;
      console.log(
        `latency at ${offered.toFixed(0)} submissions/s offered (${achieved.toFixed(0)}/s published; ${events.length.toLocaleString()} submissions, ${lastDue.size} tasks, ${visible.size} decided within 60 s of the end; publisher lag max ${publishLagMax.toFixed(0)} ms): ` +
          `last answer due → decision visible p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${(lat.at(-1) ?? NaN).toFixed(0)} ms; ` +
          `${((100 * within1s) / Math.max(1, lastDue.size)).toFixed(1)}% within 1 s (bar: every decision within 1 s; poll granularity 20 ms); from its publish: p50 ${pct(fromPublish, 50).toFixed(0)} ms, p99 ${pct(fromPublish, 99).toFixed(0)} ms`,
      );
    } finally {
      await consumer.close();
      await consumerConnection.quit();
      for (const relay of relays) await relay.stop();
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
