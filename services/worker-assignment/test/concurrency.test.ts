import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { integrationTest, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import { sql } from '@fairlabel/db';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const GATEWAYS = 4;
const WORKERS = 200;
const TASKS = 150;
const OVERLAP = 3;

async function startGateway(env: TestEnv, children: ChildProcess[]): Promise<number> {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(here, 'gateway-process.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: env.config.DATABASE_URL, REDIS_URL: env.config.REDIS_URL, REDIS_PREFIX: env.prefix, PG_POOL_MAX: '8', RATE_LIMIT_MAX: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    if (line.startsWith('{')) return (JSON.parse(line) as { port: number }).port;
  }
  throw new Error('gateway process exited before listening');
}

/** The ports of 4 gateway processes serving the worker-assignment routes on this file's database and Redis prefix. */
const test = integrationTest().extend('gateways', { scope: 'file' }, async ({ env }, { onCleanup }) => {
  const children: ChildProcess[] = [];
  onCleanup(async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
  });
  return Promise.all(Array.from({ length: GATEWAYS }, () => startGateway(env, children)));
});

describe('concurrent claims through 4 gateway processes', () => {
  test('200 workers finish a job with overlap 3 without ever overfilling a task or repeating an item', async ({ env, seed, vendor, gateways: ports }) => {
    const job = await seed.activeJob(TASKS, { overlap: OVERLAP, lease_seconds: 300 });
    const workers: WorkerActor[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await seed.worker(vendor));

    // Watches the invariant from outside the whole time the workers run.
    let overfilled: unknown[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const rows = await sql<{ task_id: number; live: number }>`
          SELECT a.task_id, count(*)::int AS live FROM assignments a JOIN tasks t ON t.id = a.task_id
          WHERE a.job_id = ${job.id}::uuid AND a.status IN ('leased', 'submitted', 'accepted')
          GROUP BY a.task_id, t.required_annotations HAVING count(*) > t.required_annotations
        `.execute(env.db);
        if (rows.rows.length) overfilled = overfilled.concat(rows.rows);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const target = TASKS * OVERLAP;
    let submitted = 0;
    const holderOf = new Map<number, string>();
    const itemsOf = new Map<string, number[]>();
    const problems: string[] = [];
    let request = 0;
    const call = async (w: WorkerActor, pathname: string, body?: unknown) => {
      const port = ports[request++ % ports.length]!;
      const res = await fetch(`http://127.0.0.1:${port}${pathname}`, {
        method: 'POST',
        headers: { ...w.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
    };

    const deadline = Date.now() + 90_000;
    await Promise.all(
      workers.map(async (w, i) => {
        while (submitted < target && Date.now() < deadline) {
          const claimed = await call(w, `/v1/assignments/next?wait=${i % 2}`);
          if (claimed.status === 204) continue;
          if (claimed.status !== 200) {
            problems.push(`claim ${claimed.status} ${JSON.stringify(claimed.body)}`);
            return;
          }
          const a = claimed.body as { id: number; task_id: number };
          if (holderOf.has(a.id)) problems.push(`assignment ${a.id} handed to two workers`);
          holderOf.set(a.id, w.workerId);
          const mine = itemsOf.get(w.workerId) ?? [];
          if (mine.includes(a.task_id)) problems.push(`worker ${w.workerId} got task ${a.task_id} twice`);
          itemsOf.set(w.workerId, [...mine, a.task_id]);
          // Some workers skip items, so freed slots are reclaimed by others mid-run.
          if ((a.id + i) % 10 === 0) {
            const rel = await call(w, `/v1/assignments/${a.id}/release`, { reason: 'skip' });
            if (rel.status !== 200) problems.push(`release ${rel.status}`);
            continue;
          }
          const sub = await call(w, `/v1/assignments/${a.id}/submit`, { answer: { label: { choices: ['cat'] } }, time_spent_ms: 500 });
          if (sub.status !== 200) problems.push(`submit ${sub.status} ${JSON.stringify(sub.body)}`);
          else submitted++;
        }
      }),
    );
    watching = false;
    await watcher;

    expect(problems).toEqual([]);
    expect(overfilled).toEqual([]);
    expect(submitted).toBe(target);
    const perTask = await sql<{ task_id: number; submitted: number; workers: number }>`
      SELECT t.id AS task_id, count(a.id) FILTER (WHERE a.status = 'submitted')::int AS submitted,
             count(DISTINCT a.worker_id) FILTER (WHERE a.status = 'submitted')::int AS workers
      FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id WHERE t.job_id = ${job.id}::uuid GROUP BY t.id
    `.execute(env.db);
    expect(perTask.rows).toHaveLength(TASKS);
    expect(perTask.rows.filter((r) => r.submitted !== OVERLAP || r.workers !== OVERLAP)).toEqual([]);
    const live = await env.db.selectFrom('assignments').select(sql<number>`count(*)::int`.as('n')).where('job_id', '=', job.id).where('status', '=', 'leased').executeTakeFirstOrThrow();
    expect(live.n).toBe(0);
    const slots = await env.db.selectFrom('task_slots').select(sql<number>`sum(open_slots)::int`.as('open')).where('job_id', '=', job.id).executeTakeFirstOrThrow();
    expect(slots.open).toBe(0);
  }, 120_000);
});
