// `pnpm bench [name...]`: runs the benchmarks under bench/ one after another (all by default). Each
// prints its own figures next to the baseline it measures in the same run; sizes come from each
// script's BENCH_* environment variables.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = ['import', 'claim', 'claim-write-cost', 'aggregate-memory', 'aggregate-http', 'settlement', 'consensus'];
/** Short names: `pnpm bench aggregate` is POST /v1/qa/aggregate over HTTP. */
const aliases: Record<string, string> = { aggregate: 'aggregate-http' };
// Names first, then flags for the scripts (`pnpm bench consensus --tasks 1000`).
const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('--'));
const names = firstFlag < 0 ? args : args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
const chosen = (names.length ? names : all).map((name) => aliases[name] ?? name);
let failed = 0;
for (const name of chosen) {
  const file = path.join(here, `${name}.ts`);
  if (!existsSync(file)) {
    console.error(`bench: no benchmark named ${name} (have: ${all.join(', ')})`);
    failed++;
    continue;
  }
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...flags], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
