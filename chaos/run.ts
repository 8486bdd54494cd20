// `pnpm test:chaos`: the long fault-suite run. Prints the figures of the README's Reliability section.
// Knobs: CHAOS_MODE (sequential: each fault after the last was repaired, so each has its own figures;
// overlapping: at random moments within CHAOS_SECONDS, piling up), CHAOS_SEED, CHAOS_SECONDS,
// CHAOS_WORKERS, CHAOS_TASKS, CHAOS_KILLS (per process), CHAOS_PG_DOWN_MS, CHAOS_SETTLE_SECONDS,
// CHAOS_ECHO=1 (print the stack's output).
import { formatReport, runChaos } from './driver.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const report = await runChaos({
  seed: env('CHAOS_SEED', Math.floor(Math.random() * 1e9)),
  mode: process.env.CHAOS_MODE === 'overlapping' ? 'overlapping' : 'sequential',
  faultSeconds: env('CHAOS_SECONDS', 90),
  workers: env('CHAOS_WORKERS', 30),
  tasks: env('CHAOS_TASKS', 3000),
  killsPerProcess: env('CHAOS_KILLS', 2),
  postgresDownMs: env('CHAOS_PG_DOWN_MS', 5000),
  settleSeconds: env('CHAOS_SETTLE_SECONDS', 90),
  echo: process.env.CHAOS_ECHO === '1',
});
console.log(formatReport(report));
process.exit(report.ok ? 0 : 1);
