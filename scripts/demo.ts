// The demonstration run by `pnpm start --demo` (or `pnpm demo [base url]` against a running stack):
// a client company's three jobs, two vendors' simulated workers, QA's decisions and an appeal, the
// webhooks, and finance's pay run with floor top-ups, all over the public API (scripts/demo/). It
// prints a summary, writes demo-report.html, and exits 1 when an invariant or a step fails, naming it.
//
//   pnpm demo [base] [--small] [--seed N] [--report path] [--json path]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase, migrateToLatest } from '@fairlabel/db';
import { issueApiKey } from '../services/gateway/src/api-keys.service.js';
import { createOrganization } from '../services/gateway/src/organizations.service.js';
import { renderReport } from './demo/report.js';
import { cents, FULL, runDemo, SMALL, type DemoResult } from './demo/run.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    small: { type: 'boolean', default: false },
    seed: { type: 'string', default: '20261129' },
    report: { type: 'string', default: 'demo-report.html' },
    json: { type: 'string' },
  },
});
const config = loadConfigOrExit();
const base = positionals[0] ?? `http://127.0.0.1:${config.PORT}`;
const log = (msg: string) => console.log(`[demo] ${msg}`);

/** The first admin key, issued the way `pnpm fairlabel bootstrap` does: the one thing not done over HTTP. */
async function adminKey(): Promise<string> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(createPool(config.DATABASE_URL, 2));
  try {
    await migrateToLatest(db);
    const platform = await db.selectFrom('organizations').select('id').where('kind', '=', 'platform').executeTakeFirst();
    const orgId = platform?.id ?? (await createOrganization(db, { name: 'platform', kind: 'platform' })).id;
    return (await issueApiKey(db, { organizationId: orgId, role: 'admin', name: 'demo' })).key;
  } finally {
    await db.destroy();
  }
}

function summary(r: DemoResult, reportPath: string): string[] {
  const fp = r.fairPay;
  const pr = r.payRun;
  const decided = r.jobs.reduce((n, j) => n + j.decided, 0);
  const items = r.jobs.reduce((n, j) => n + j.items, 0);
  const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
  const promoted = r.workers.filter((w) => w.promoted).length;
  const suspended = r.workers.filter((w) => w.suspended.length).length;
  return [
    '',
    `fairlabel demonstration — ${r.workers.length} workers, seed ${r.seed}, ${r.seconds.toFixed(1)} s`,
    `  tasks decided        ${decided} of ${items} (and ${r.jobs.reduce((n, j) => n + j.gold, 0)} gold items, never decided: QA scores each answer to them against the gold answer)`,
    ...r.jobs.map((j) => `    ${j.name.padEnd(18)} ${String(j.decided).padStart(4)}/${j.items}  agreement ${pct(j.agreement).padStart(6)}  accuracy against the truth ${pct(j.accuracy).padStart(6)}  (${j.status})`),
    `  work                 ${r.work.claims} claims, ${r.work.submits} submissions, ${r.work.releases} released, ${r.work.leasesLost} leases lost; ${r.work.claimsPerSecond.toFixed(1)} claims/s over ${r.work.seconds.toFixed(1)} s (${r.requests} requests, ${r.retries} retried after a 503/429)`,
    `  QA                   ${promoted} workers promoted, ${suspended} suspended from a skill; appeal: ${r.appeal.detail}`,
    `  webhooks             ${r.webhooks.received} received (${r.webhooks.verified} signature-verified), job.completed for ${r.webhooks.completed.length} of ${r.jobs.length} jobs`,
    `  pay run              ${pr ? `#${pr.id} ${pr.status}: workers ${cents(pr.worker_total)}, vendors ${cents(pr.vendor_total)}, total ${cents(pr.total)}; ${r.statements.workers} worker statements, floor top-ups ${cents(r.statements.topups)}` : 'none'}`,
    `  fair pay             ${fp ? `${fp.summary.workers_under_floor} of ${fp.summary.workers} workers under their floor before top-ups; median ${fp.summary.median_effective_hourly ? cents(fp.summary.median_effective_hourly) : '–'}/h; Gini ${fp.summary.gini?.toFixed(3) ?? '–'}` : '–'}`,
    `  checks`,
    ...r.checks.map((c) => `    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : ` — ${c.detail}`}`),
    `  report               ${reportPath}`,
    r.ok ? 'Every check passed.' : `FAILED: ${r.checks.filter((c) => !c.ok).length} check(s): ${r.checks.filter((c) => !c.ok).map((c) => c.name).join('; ')}`,
  ];
}

const reportPath = path.resolve(values.report);
try {
  const result = await runDemo({ base, adminKey: await adminKey(), seed: Number(values.seed), size: values.small ? SMALL : FULL, log });
  writeFileSync(reportPath, renderReport(result));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
  console.log(summary(result, reportPath).join('\n'));
  process.exitCode = result.ok ? 0 : 1;
} catch (err) {
  log(`the demonstration stopped: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
// Keep-alive sockets and timers of the HTTP client must not keep the stack running after the demo.
process.exit();
