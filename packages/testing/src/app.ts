import { buildHttpApp, type AppInstance, type RoutePlugin } from '@fairlabel/http';
import type { TestEnv } from './env.js';

/** The same HTTP stack the gateway serves (auth, errors, rate limits, docs), with the given route plugins. */
export async function buildTestApp(env: TestEnv, routes: RoutePlugin[]): Promise<AppInstance> {
  const app = await buildHttpApp({ deps: env, routes });
  await app.ready();
  return app;
}
