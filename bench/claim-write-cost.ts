// bench/claim-write-cost: what each index, foreign key and trigger on `assignments` costs a claim →
// submit cycle (issue 14, "a cheaper write"), and what the cross-job order costs at 1,000 active jobs
// against one.
//
// Method: drop one and measure. In a scratch database seeded like bench/claim, each variant runs in
// one transaction that drops the object, runs BENCH_WRITE_CYCLES claim → submit cycles through the real
// functions (wa_claim with the hinted job order the service would pass, then wa_submit), and rolls
// back — so every variant starts from the same data and nothing is ever left dropped. What is measured
// is the CPU time of the Postgres backend that ran them (/proc/<pid>/stat, so other load on the
// machine distorts it little), per cycle; all cycles share one transaction, so commit cost (the same
// for every variant) is not in it. Variants run in a shuffled order, BENCH_WRITE_ROUNDS times; the
// median is printed, with its difference from the median of "nothing dropped" of the same rounds.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { sqlConstants } from '@fairlabel/db';
import { readOptions } from './claim/options.js';
import { createScratchDatabase, dropDatabase, seed } from './claim/seed.js';
import { table } from './claim/stats.js';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw ? Number(raw) : fallback;
}

const CYCLES = intFromEnv('BENCH_WRITE_CYCLES', 2000);
const ROUNDS = intFromEnv('BENCH_WRITE_ROUNDS', 3);
const SMALL_JOBS = intFromEnv('BENCH_WRITE_JOBS', 1000) - 1;
const base = readOptions();
const opts = {
  ...base,
  tasks: intFromEnv('BENCH_TASKS', 100_000),
  jobs: 1,
  workers: 200,
  openRate: 0,
  database: process.env.BENCH_DATABASE ?? base.database.replace('claim', 'write_cost'),
};
/** BENCH_WRITE_CROSS_JOB_ONLY=1: only the cross-job order (1 against 1,000 active jobs), no drop variants. */
const CROSS_JOB_ONLY = process.env.BENCH_WRITE_CROSS_JOB_ONLY === '1';

interface Variant {
  name: string;
  /** What the variant drops (in the rolled-back transaction). */
  ddl: string;
}

const ix = (name: string): Variant => ({ name: `index ${name}`, ddl: `DROP INDEX ${name}` });
const fk = (name: string): Variant => ({ name: `foreign key ${name}`, ddl: `ALTER TABLE assignments DROP CONSTRAINT ${name}` });
// Not measured, because the claim cannot run without them: the primary key, unique (task_id, worker_id)
// (wa_claim's ON CONFLICT names it; it backs "never the same item twice" and is the anti-join of
// wa_open_slots), and task_slots' two indexes (the slot lock by task_id and the open-slot probe).
const VARIANTS: Variant[] = [
  { name: 'nothing dropped', ddl: '' },
  ix('assignments_job_recent'),
  ix('assignments_job_status'),
  ix('assignments_job_submitted'),
  ix('assignments_lease_expiry'),
  ix('assignments_worker'),
  ix('assignments_worker_day'),
  fk('assignments_job_id_fkey'),
  fk('assignments_task_id_fkey'),
  fk('assignments_worker_id_vendor_id_fkey'),
  { name: 'trigger assignments_slots_insert', ddl: 'DROP TRIGGER assignments_slots_insert ON assignments' },
  { name: 'trigger assignments_slots_update', ddl: 'DROP TRIGGER assignments_slots_update ON assignments' },
];

const CPU_TICKS_PER_SECOND = 100;
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CPU_TICKS_PER_SECOND) * 1000;
}

/** The claim → submit cycles, in SQL, as the service calls them (the hint: wa_job_order's first WA_HINTED_JOBS). */
// The service refreshes its hint once a second per process (job-order.ts), not per claim; here before
// every HINT_EVERY cycles, in its own statement, timed apart from the cycles (its cost is per process
// and second, reported on its own).
const HINT_EVERY = intFromEnv('BENCH_WRITE_HINT_EVERY', 200);
const CYCLES_FUNCTION = `
CREATE OR REPLACE FUNCTION bench_cycles(p_n integer, p_workers uuid[], p_vendor uuid, p_hint uuid[]) RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE
  r wa_claim_result;
  w uuid;
  claimed integer := 0;
BEGIN
  FOR i IN 1 .. p_n LOOP
    w := p_workers[1 + i % cardinality(p_workers)];
    r := wa_claim(w, p_vendor, now(), true, p_hint, true);
    CONTINUE WHEN r.outcome <> 'claimed';
    claimed := claimed + 1;
    PERFORM wa_submit(r.id, w, now(), '{"label": {"choices": ["cat"]}}'::jsonb, 1000, r.task_id, r.job_id, p_vendor, '[]'::jsonb, 'bench_write_cost');
  END LOOP;
  RETURN claimed;
END $f$;`;
const HINT_QUERY = `SELECT ARRAY(SELECT o.job_id FROM wa_job_order() o LIMIT ${sqlConstants.WA_HINTED_JOBS}) AS hint`;

interface Measured {
  /** Backend CPU ms per claimed cycle, hint refreshes excluded. */
  cycle: number;
  /** Backend CPU ms per hint refresh. */
  hint: number;
}

async function runVariant(c: pg.Client, pid: number, v: Variant, workers: string[], vendorId: string, setup = ''): Promise<Measured> {
  await c.query('BEGIN');
  try {
    if (setup) await c.query(setup);
    if (v.ddl) await c.query(v.ddl);
    let cycleMs = 0;
    let hintMs = 0;
    let claimed = 0;
    let refreshes = 0;
    for (let done = 0; done < CYCLES; done += HINT_EVERY) {
      const h0 = cpuMsOf(pid);
      const hint = (await c.query<{ hint: string[] }>(HINT_QUERY)).rows[0]!.hint;
      const h1 = cpuMsOf(pid);
      const r = await c.query<{ n: number }>('SELECT bench_cycles($1, $2::uuid[], $3::uuid, $4::uuid[]) AS n', [Math.min(HINT_EVERY, CYCLES - done), workers, vendorId, hint]);
      const h2 = cpuMsOf(pid);
      hintMs += h1 - h0;
      cycleMs += h2 - h1;
      claimed += r.rows[0]!.n;
      refreshes++;
    }
    if (claimed < CYCLES * 0.9) throw new Error(`${v.name}: only ${claimed} of ${CYCLES} claims found a task`);
    return { cycle: cycleMs / claimed, hint: hintMs / refreshes };
  } finally {
    await c.query('ROLLBACK');
    // The rolled-back rows are dead; clean them so the next variant probes the same indexes.
    await c.query('VACUUM assignments, task_slots, job_vendor_usage');
  }
}

function shuffled<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function printVariants(results: Map<string, number[]>) {
  const baseline = median(results.get('nothing dropped')!);
  console.log(`\nPostgres backend CPU per claim → submit cycle (median of ${ROUNDS}; each run ${CYCLES} cycles in one rolled-back transaction; hint refreshes not included)\n`);
  console.log(
    table(
      ['dropped', 'CPU ms / cycle', 'saved ms', 'saved %', 'runs'],
      VARIANTS.map((v) => {
        const runs = results.get(v.name)!;
        const m = median(runs);
        return [v.name, m.toFixed(3), v.ddl ? (baseline - m).toFixed(3) : '', v.ddl ? `${(((baseline - m) / baseline) * 100).toFixed(1)}%` : '', runs.map((x) => x.toFixed(3)).join(' ')];
      }),
    ),
  );
}

async function main() {
  console.log(
    `bench/claim-write-cost: ${opts.tasks.toLocaleString('en-US')} tasks in one job (+ ${SMALL_JOBS} jobs of ${intFromEnv('BENCH_WRITE_JOB_TASKS', 100)} tasks for the cross-job order), ` +
      `${CYCLES} claim → submit cycles per run (hint refreshed every ${HINT_EVERY}), ${ROUNDS} rounds`,
  );
  const url = await createScratchDatabase(opts);
  const seeded = await seed(opts, url);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // Small jobs (BENCH_WRITE_JOB_TASKS tasks each), paused: the cross-job runs activate them in their transaction.
    await c.query(
      `INSERT INTO jobs (client_id, name, task_type, label_config, instructions, required_skill, min_level, overlap,
                         pay_per_annotation, client_price_per_item, currency, priority, deadline, status, activated_at)
       SELECT $1, 'small job ' || g, j.task_type, j.label_config, j.instructions, j.required_skill, 1, j.overlap, 5, 20, 'USD', g % 5,
              now() + make_interval(hours => g), 'paused', now()
       FROM generate_series(1, $2::int) g CROSS JOIN (SELECT * FROM jobs LIMIT 1) j`,
      [seeded.clientId, SMALL_JOBS],
    );
    await c.query(
      `INSERT INTO tasks (job_id, external_id, payload, required_annotations)
       SELECT j.id, 'item-' || g, jsonb_build_object('text', 'bench item ' || g), j.overlap FROM jobs j CROSS JOIN generate_series(1, $1::int) g WHERE j.status = 'paused'`,
      [intFromEnv('BENCH_WRITE_JOB_TASKS', 100)],
    );
    await c.query('VACUUM (ANALYZE) jobs, tasks, task_slots, assignments');
    await c.query(CYCLES_FUNCTION);
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const workers = seeded.workers.map((w) => w.id);
    // Warm the backend's plan caches and the buffers.
    await runVariant(c, pid, VARIANTS[0]!, workers, seeded.vendorId);

    const results = new Map<string, number[]>();
    const crossJob = { one: [] as number[], many: [] as number[], hintOne: [] as number[], hintMany: [] as number[] };
    const activateAll = `UPDATE jobs SET status = 'active' WHERE status = 'paused'`;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of CROSS_JOB_ONLY ? [] : shuffled(VARIANTS)) {
        const { cycle } = await runVariant(c, pid, v, workers, seeded.vendorId);
        results.set(v.name, [...(results.get(v.name) ?? []), cycle]);
      }
      const one = await runVariant(c, pid, VARIANTS[0]!, workers, seeded.vendorId);
      const many = await runVariant(c, pid, VARIANTS[0]!, workers, seeded.vendorId, activateAll);
      crossJob.one.push(one.cycle);
      crossJob.many.push(many.cycle);
      crossJob.hintOne.push(one.hint);
      crossJob.hintMany.push(many.hint);
      console.log(`  round ${round} of ${ROUNDS} done (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
    }
    if (!CROSS_JOB_ONLY) printVariants(results);
    const one = median(crossJob.one);
    const many = median(crossJob.many);
    console.log(
      `\ncross-job order: 1 active job ${one.toFixed(3)} ms / cycle; ${SMALL_JOBS + 1} active jobs ${many.toFixed(3)} ms / cycle: ${(many / one).toFixed(2)}x ` +
        `(runs ${crossJob.one.map((x) => x.toFixed(3)).join(' ')} / ${crossJob.many.map((x) => x.toFixed(3)).join(' ')}); ` +
        `the hint refresh (wa_job_order, once a second per gateway process, not per claim): ${median(crossJob.hintOne).toFixed(2)} ms at 1 job, ` +
        `${median(crossJob.hintMany).toFixed(2)} ms at ${SMALL_JOBS + 1} jobs`,
    );
  } finally {
    await c.end();
  }
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.error('bench/claim-write-cost failed:', err);
  exitCode = 1;
} finally {
  if (process.env.BENCH_KEEP_DATABASE === '1') console.log(`kept database ${opts.database}`);
  else await dropDatabase(opts).catch((err) => console.error('could not drop the scratch database', err));
}
process.exit(exitCode);
