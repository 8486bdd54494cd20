// CPU per claim → submit cycle, one cycle at a time, measured as CPU time (not wall time) so other
// load on the machine does not distort it: the Node side (this process) and the Postgres side (the
// backends of the benchmark database). Three layers, so the difference says where the time goes:
//   service  — claimNext + submit of worker-assignment called directly;
//   HTTP app — the whole gateway app (auth, rate limit, validation, serialisation) via inject(), no socket;
//   raw SQL  — the floor's two statements on one connection.
import '../secrets-key.js';
import pg from 'pg';
import { loadConfig } from '@fairlabel/config';
import { createLogger } from '@fairlabel/observability';
import { createDeps } from '@fairlabel/runtime';
import { buildGateway } from '../../services/gateway/src/app.js';
import { claimNext } from '../../services/worker-assignment/src/claim.service.js';
import { submit } from '../../services/worker-assignment/src/submit.service.js';
import { SlotWakeups } from '../../services/worker-assignment/src/wakeups.js';
import { cpuMeter } from './processes.js';
import { LABELS, type SeededWorker } from './seed.js';
import { table } from './stats.js';

export interface LayerCost {
  layer: string;
  cycles: number;
  wallMs: number;
  nodeCpuMs: number;
  postgresCpuMs: number;
}

async function measure(layer: string, database: string, cycles: number, cycle: (i: number) => Promise<void>): Promise<LayerCost> {
  // A few unmeasured cycles first: JIT, connection setup, caches (hinted job order, median).
  for (let i = 0; i < 20; i++) await cycle(i);
  const meter = cpuMeter(() => [], database);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  meter.start();
  for (let i = 20; i < 20 + cycles; i++) await cycle(i);
  const split = meter.stop();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    layer,
    cycles,
    wallMs: wall / cycles,
    nodeCpuMs: (cpu.user + cpu.system) / 1000 / cycles,
    postgresCpuMs: (split.postgres * wall) / cycles,
  };
}

export async function cpuPerCycle(opts: {
  url: string;
  redisUrl: string;
  prefix: string;
  database: string;
  workers: SeededWorker[];
  vendorId: string;
  rawTable: string;
  cycles: number;
}): Promise<{ costs: LayerCost[]; text: string }> {
  const config = loadConfig({ DATABASE_URL: opts.url, REDIS_URL: opts.redisUrl, REDIS_PREFIX: opts.prefix, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000000', PG_POOL_MAX: '4' });
  const deps = createDeps(config, 'bench-cpu', { logger: createLogger({ level: 'warn', name: 'bench-cpu' }) });
  const wakeups = new SlotWakeups(deps.redis, deps.prefix, deps.logger);
  const app = await buildGateway(deps);
  await app.ready();
  const raw = new pg.Client({ connectionString: opts.url });
  await raw.connect();
  const worker = (i: number) => opts.workers[i % opts.workers.length]!;
  try {
    const costs: LayerCost[] = [];
    costs.push(
      await measure('worker-assignment service functions (no HTTP)', opts.database, opts.cycles, async (i) => {
        const w = worker(i);
        const a = await claimNext(deps, wakeups, w.id, opts.vendorId, 0);
        if (!a) throw new Error('cpu profile: nothing to claim');
        await submit(deps, a.id, w.id, { label: { choices: [LABELS[i % LABELS.length]] } }, 1000);
      }),
    );
    costs.push(
      await measure('gateway app via inject() (auth, rate limit, zod, no socket)', opts.database, opts.cycles, async (i) => {
        const authorization = `Bearer ${worker(i).key}`;
        const claimed = await app.inject({ method: 'POST', url: '/v1/assignments/next', headers: { authorization } });
        if (claimed.statusCode !== 200) throw new Error(`cpu profile: claim answered ${claimed.statusCode}: ${claimed.body.slice(0, 200)}`);
        const id = (claimed.json() as { id: number }).id;
        const submitted = await app.inject({
          method: 'POST',
          url: `/v1/assignments/${id}/submit`,
          headers: { authorization, 'content-type': 'application/json' },
          payload: JSON.stringify({ answer: { label: { choices: [LABELS[i % LABELS.length]] } }, time_spent_ms: 1000 }),
        });
        if (submitted.statusCode !== 200) throw new Error(`cpu profile: submit answered ${submitted.statusCode}: ${submitted.body.slice(0, 200)}`);
      }),
    );
    costs.push(
      await measure('raw SQL floor statements (one connection)', opts.database, opts.cycles, async () => {
        const r = await raw.query<{ id: string }>(
          `UPDATE ${opts.rawTable} SET status = 'claimed', claimed_at = now()
           WHERE id = (SELECT id FROM ${opts.rawTable} WHERE status = 'open' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id`,
        );
        await raw.query(`UPDATE ${opts.rawTable} SET status = 'done', done_at = now() WHERE id = $1`, [r.rows[0]!.id]);
      }),
    );
    const floor = costs[2]!;
    const text = table(
      ['per cycle, sequential', 'wall ms', 'node CPU ms', 'postgres CPU ms', 'CPU ms total', 'x raw CPU'],
      costs.map((c) => [
        c.layer,
        c.wallMs.toFixed(2),
        c.nodeCpuMs.toFixed(2),
        c.postgresCpuMs.toFixed(2),
        (c.nodeCpuMs + c.postgresCpuMs).toFixed(2),
        ((c.nodeCpuMs + c.postgresCpuMs) / (floor.nodeCpuMs + floor.postgresCpuMs)).toFixed(1),
      ]),
    );
    return { costs, text };
  } finally {
    await raw.end();
    await app.close();
    await wakeups.close();
    await deps.close();
  }
}
