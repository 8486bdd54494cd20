import { buildHttpApp, type AppInstance, type RoutePlugin } from '@fairlabel/http';
import type { Metrics } from '@fairlabel/observability';
import type { Deps } from '@fairlabel/runtime';
import { qaSamplingRoutes } from '@fairlabel/qa-sampling';
import { settlementRoutes } from '@fairlabel/settlement';
import { taskDispatchRoutes } from '@fairlabel/task-dispatch';
import { workerAssignmentRoutes } from '@fairlabel/worker-assignment';
import { apiKeyRoutes } from './api-keys.routes.js';
import { recordKeyUse } from './api-keys.service.js';
import { opsConsole } from './ops-console.js';
import { opsRoutes } from './ops.routes.js';
import { openOpsDeps, stackGaugeReader } from './ops.service.js';
import { organizationRoutes } from './organizations.routes.js';

/** Every route plugin of the public API. The gateway is the composition root: it imports only these. */
export const allRoutes: RoutePlugin[] = [
  { name: 'organizations', plugin: organizationRoutes },
  { name: 'api-keys', plugin: apiKeyRoutes },
  taskDispatchRoutes,
  workerAssignmentRoutes,
  qaSamplingRoutes,
  settlementRoutes,
  { name: 'ops', plugin: opsRoutes },
];

export async function buildGateway(deps: Deps, metrics: Metrics = deps.metrics): Promise<AppInstance> {
  const app = await buildHttpApp({ deps, routes: allRoutes, rootPlugins: [opsConsole], recordKeyUse: (keyId) => recordKeyUse(deps.db, keyId), metrics });
  // The gateway's /metrics also carries the stack-wide gauges an operator alerts on (queue depth and
  // age, outbox lag), read from Redis and Postgres when Prometheus scrapes.
  const gauges = openOpsDeps(deps);
  metrics.readStackGaugesWith(stackGaugeReader(gauges, metrics));
  app.addHook('onClose', async () => gauges.close());
  return app;
}
