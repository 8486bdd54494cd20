import type { Worker } from 'bullmq';
import { loadConfigOrExit } from '@fairlabel/config';
import { checkEvictionPolicy } from '@fairlabel/queues';
import { createLogger, createMetrics, installProcessGuards, serveMetrics, type Metrics } from '@fairlabel/observability';
import { checkInfrastructure } from './infrastructure.js';
import { EXIT_DEPENDENCY_UNAVAILABLE } from './supervisor.js';
import { createDeps, type Deps } from './deps.js';
import { runUntilSignal } from './process.js';

export interface ServiceProcess {
  /** BullMQ workers; closing them lets each finish its current job. */
  workers?: Worker[];
  /** Anything else to stop (schedulers, listeners), after the workers. */
  stop?: () => Promise<void>;
}

/**
 * The entry point of a service process: config, a reachability check of Postgres and Redis that says
 * what is missing, the service's consumers and schedulers, and a graceful stop on SIGTERM/SIGINT that
 * lets in-flight jobs finish.
 */
export async function runServiceProcess(name: string, start: (deps: Deps, ctx: { metrics: Metrics }) => Promise<ServiceProcess>): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name });
  const metrics = createMetrics(name);
  installProcessGuards({ logger, registry: metrics.registry });
  const problems = await checkInfrastructure(config);
  if (problems.length) {
    for (const p of problems) console.error(`${name}: ${p}`);
    process.exit(EXIT_DEPENDENCY_UNAVAILABLE);
  }
  const deps = createDeps(config, name, { logger, metrics });
  await checkEvictionPolicy(deps.redis, deps.logger);
  const metricsServer = config.METRICS_PORT > 0 ? await serveMetrics(metrics.registry, { host: config.HOST, port: config.METRICS_PORT, logger }) : null;
  await runUntilSignal({
    logger: deps.logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    start: async () => {
      const proc = await start(deps, { metrics });
      deps.logger.info({ consumers: proc.workers?.map((w) => w.name) ?? [] }, `${name} started`);
      return async () => {
        await Promise.all((proc.workers ?? []).map((w) => w.close()));
        await proc.stop?.();
        await deps.close();
        metricsServer?.close();
      };
    },
  });
}
