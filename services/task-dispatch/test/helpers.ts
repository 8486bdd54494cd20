import type { FastifyPluginAsyncZod, RoutePlugin } from '@fairlabel/http';
import { importRoutes } from '../src/import.routes.js';
import { jobRoutes } from '../src/jobs.routes.js';
import { progressRoutes } from '../src/progress.routes.js';

/** Some of the service's route plugins as one, so a test file serves only the routes it tests. */
export function someRoutes(name: string, ...plugins: FastifyPluginAsyncZod[]): RoutePlugin {
  return {
    name,
    plugin: async (app) => {
      for (const plugin of plugins) await app.register(plugin);
    },
  };
}

/** The job, import and progress routes alone, so these tests do not depend on the rest of the service. */
export const jobAndImportRoutes = someRoutes('task-dispatch-jobs', jobRoutes, importRoutes, progressRoutes);

export const ndjson = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join('\n') + '\n';
