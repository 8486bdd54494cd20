// Where a claim's time goes: the real claim and submit functions of worker-assignment run in this
// process against the benchmark database, one at a time, with every SQL statement they issue logged
// with its duration; then the claim's job-order query, exactly as issued (text and parameters), is
// run under EXPLAIN (ANALYZE, BUFFERS). The claim itself is one call of the wa_claim SQL function.
import pg from 'pg';
import { Kysely, PostgresDialect, type LogEvent } from 'kysely';
import { Redis } from 'ioredis';
import { createPool, type Database } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { claimNext } from '../../services/worker-assignment/src/claim.service.js';
import { submit } from '../../services/worker-assignment/src/submit.service.js';
import { SlotWakeups } from '../../services/worker-assignment/src/wakeups.js';
import { LABELS, type SeededWorker } from './seed.js';
import { fmtMs, summarize, table } from './stats.js';

interface LoggedQuery {
  sql: string;
  parameters: readonly unknown[];
  ms: number;
}

/** Names a statement of the claim or submit path by what it does. */
const statementNames: [RegExp, string][] = [
  [/\) head\b/, 'claim: job-order hint refresh (per process, each second)'],
  [/wa_claim_candidates\(/, 'claim (fair share): candidate jobs'],
  [/wa_claim\(/, 'claim: wa_claim (worker checks, candidates, share cap, lock, insert, describe)'],
  [/percentile_cont/, 'claim: median time per task (pay quote)'],
  [/^\s*WITH submitted AS \(/, 'submit: update assignment (+ slot trigger), outbox event and NOTIFY in one statement'],
  [/^\s*SELECT a\.task_id, a\.job_id, a\.vendor_id, t\.payload/, 'submit: read assignment (claimed in another process)'],
  [/FROM jobs WHERE id/, 'submit: load label config (once per job per process)'],
  [/outbox/, 'submit (ordered checks): outbox event'],
];

const nameOf = (sql: string) => statementNames.find(([re]) => re.test(sql))?.[1] ?? sql.replace(/\s+/g, ' ').slice(0, 60);

export interface ProfileResult {
  claims: number;
  claimWall: ReturnType<typeof summarize>;
  submitWall: ReturnType<typeof summarize>;
  statements: string;
  explains: { name: string; sql: string; plan: string }[];
}

export async function profileClaims(url: string, redisUrl: string, prefix: string, workers: SeededWorker[], vendorId: string, claims: number): Promise<ProfileResult> {
  let log: LoggedQuery[] = [];
  const pool = createPool(url, 4);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event: LogEvent) => {
      // Copied: the claim mutates arrays it passed as parameters (the excluded jobs) after the query ran.
      if (event.level === 'query') log.push({ sql: event.query.sql, parameters: event.query.parameters.map((p) => (Array.isArray(p) ? [...p] : p)), ms: event.queryDurationMillis });
    },
  });
  // The hot path's prepared statements go to pool.query, around kysely: logged here the same way.
  const poolQuery = pool.query.bind(pool) as (config: { text: string; values?: unknown[] }) => Promise<unknown>;
  (pool as { query: unknown }).query = async (config: { text: string; values?: unknown[] }) => {
    const started = performance.now();
    const result = await poolQuery(config);
    log.push({ sql: config.text, parameters: (config.values ?? []).map((p) => (Array.isArray(p) ? [...p] : p)), ms: performance.now() - started });
    return result;
  };
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const logger = createLogger({ level: 'warn', name: 'bench-profile' });
  const deps = { db, pool, redis, prefix, clock: { now: () => new Date() }, logger };
  const wakeups = new SlotWakeups(redis, prefix, logger);
  const perStatement = new Map<string, number[]>();
  const claimWall: number[] = [];
  const submitWall: number[] = [];
  // The first run of each distinct hint-refresh query text.
  const toExplain = new Map<string, LoggedQuery>();
  try {
    for (let i = 0; i < claims; i++) {
      const worker = workers[i % workers.length]!;
      log = [];
      const t0 = performance.now();
      const claimed = await claimNext(deps, wakeups, worker.id, vendorId, 0);
      claimWall.push(performance.now() - t0);
      if (!claimed) throw new Error('profile: no task left to claim');
      for (const q of log) if (/hint refresh/.test(nameOf(q.sql)) && !toExplain.has(q.sql)) toExplain.set(q.sql, q);
      const t1 = performance.now();
      await submit(deps, claimed.id, worker.id, { label: { choices: [LABELS[i % LABELS.length]] } }, 1000);
      submitWall.push(performance.now() - t1);
      for (const q of log) {
        const name = nameOf(q.sql);
        perStatement.set(name, [...(perStatement.get(name) ?? []), q.ms]);
      }
    }
    const rows = [...perStatement.entries()].map(([name, ms]) => {
      const s = summarize(ms)!;
      return [name, String((ms.length / claims).toFixed(2)), fmtMs(ms.reduce((a, b) => a + b, 0) / ms.length), fmtMs(s.p50), fmtMs(s.p99)];
    });
    const statements = table(['statement (in-process, one claim + submit at a time)', 'per cycle', 'mean ms', 'p50 ms', 'p99 ms'], rows);

    const explains: ProfileResult['explains'] = [];
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const q of toExplain.values()) {
        const name = nameOf(q.sql);
        await client.query('BEGIN');
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters as unknown[]);
        await client.query('ROLLBACK');
        explains.push({ name, sql: q.sql.trim(), plan: plan.rows.map((r) => r['QUERY PLAN']).join('\n') });
      }
    } finally {
      await client.end();
    }
    return { claims, claimWall: summarize(claimWall), submitWall: summarize(submitWall), statements, explains };
  } finally {
    await wakeups.close();
    await db.destroy();
    redis.disconnect();
  }
}
