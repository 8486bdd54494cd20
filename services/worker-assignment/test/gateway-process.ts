// A gateway process for the concurrency test: the real HTTP stack with the worker-assignment routes,
// against the test's database and Redis prefix (from the environment), on a free port it prints.
import { loadConfig } from '@fairlabel/config';
import { buildHttpApp } from '@fairlabel/http';
import { createLogger } from '@fairlabel/observability';
import { createDeps } from '@fairlabel/runtime';
import { workerAssignmentRoutes } from '../src/index.js';

const deps = createDeps(loadConfig(), 'test-gateway', { logger: createLogger({ level: 'warn' }) });
const app = await buildHttpApp({ deps, routes: [workerAssignmentRoutes] });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => deps.close()).then(() => process.exit(0));
});
