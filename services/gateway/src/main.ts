import { loadConfigOrExit } from '@fairlabel/config';
import { checkEvictionPolicy } from '@fairlabel/queues';
import { checkInfrastructure, createDeps, runUntilSignal } from '@fairlabel/runtime';
import { buildGateway } from './app.js';

const config = loadConfigOrExit();
const problems = await checkInfrastructure(config);
if (problems.length) {
  for (const p of problems) console.error(`gateway: ${p}`);
  process.exit(69);
}
const deps = createDeps(config, 'gateway');
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
