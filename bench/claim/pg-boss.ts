// Baseline (b): pg-boss (a Postgres job queue built on SKIP LOCKED) fetching and completing jobs
// with N fetchers at a given batch size, in its own schema of the scratch database.
import PgBoss from 'pg-boss';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PgBossResult {
  batchSize: number;
  fetchers: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  /** True when the queue was drained inside the measured window (the rate is over the drain time). */
  drained: boolean;
}

export const PGBOSS_SCHEMA = 'pgboss_bench';
const INSERT_CHUNK = 5_000;

export async function runPgBoss(url: string, opts: { jobs: number; fetchers: number; batchSize: number; warmupSeconds: number; seconds: number; queueSuffix?: string }): Promise<PgBossResult> {
  const boss = new PgBoss({ connectionString: url, schema: PGBOSS_SCHEMA, max: opts.fetchers + 2, supervise: false, schedule: false, application_name: 'bench-pg-boss' });
  let stopped = false;
  // After stop() pg-boss may still hold idle connections that the scratch database's DROP … WITH
  // (FORCE) terminates; those errors are the cleanup, not the measurement.
  boss.on('error', (err) => {
    if (!stopped) console.error('pg-boss error', err);
  });
  await boss.start();
  // A queue of its own per run (the interleaved rounds run it again): each run starts from `jobs` queued.
  const queue = `bench-batch-${opts.batchSize}${opts.queueSuffix ?? ''}`;
  try {
    await boss.createQueue(queue);
    for (let i = 0; i < opts.jobs; i += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, opts.jobs - i);
      await boss.insert(Array.from({ length: n }, (_, k) => ({ name: queue, data: { item: i + k } })));
    }
    // Planner statistics, as autovacuum would have them on a live queue.
    await boss.getDb().executeSql(`ANALYZE ${PGBOSS_SCHEMA}.job`, []);
    let measuring = false;
    let stopping = false;
    let completed = 0;
    let drainedAt: number | null = null;
    let started = 0;
    const fetcher = async () => {
      while (!stopping) {
        const counted = measuring;
        const jobs = await boss.fetch(queue, { batchSize: opts.batchSize });
        if (jobs.length === 0) {
          if (measuring && drainedAt === null) drainedAt = (performance.now() - started) / 1000;
          stopping = true;
          break;
        }
        await boss.complete(queue, jobs.map((j) => j.id));
        if (counted && measuring) completed += jobs.length;
      }
    };
    const running = Array.from({ length: opts.fetchers }, fetcher);
    const all = Promise.all(running);
    await Promise.race([sleep(opts.warmupSeconds * 1000), all]);
    started = performance.now();
    measuring = true;
    await Promise.race([sleep(opts.seconds * 1000), all]);
    measuring = false;
    const seconds = drainedAt ?? (performance.now() - started) / 1000;
    stopping = true;
    await all;
    return { batchSize: opts.batchSize, fetchers: opts.fetchers, jobs: completed, seconds, jobsPerSecond: completed / seconds, drained: drainedAt !== null };
  } finally {
    await boss.stop({ graceful: false, wait: true });
    stopped = true;
  }
}
