import { loadConfigOrExit } from '@fairlabel/config';
import { checkEvictionPolicy } from '@fairlabel/queues';
import { createLogger, createMetrics, installProcessGuards } from '@fairlabel/observability';
import { checkInfrastructure, createDeps, EXIT_DEPENDENCY_UNAVAILABLE, runUntilSignal } from '@fairlabel/runtime';
import { buildGateway } from './app.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'gateway' });
const metrics = createMetrics('gateway');
installProcessGuards({ logger, registry: metrics.registry });
const problems = await checkInfrastructure(config);
if (problems.length) {
  for (const p of problems) console.error(`gateway: ${p}`);
  process.exit(EXIT_DEPENDENCY_UNAVAILABLE);
}
const deps = createDeps(config, 'gateway', { logger, metrics });
await checkEvictionPolicy(deps.redis, deps.logger);
const app = await buildGateway(deps);

await runUntilSignal({
  logger: deps.logger,
  graceMs: config.SHUTDOWN_GRACE_MS,
  start: async () => {
    await app.listen({ host: config.HOST, port: config.PORT });
    deps.logger.info(`API docs at http://${config.HOST}:${config.PORT}/docs`);
    // close() stops accepting connections, answers new requests on kept-alive sockets with 503,
    // and resolves once in-flight requests have finished.
    return async () => {
      await app.close();
      await deps.close();
    };
  },
});
