import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const workerRoutes: FastifyPluginAsyncZod = async () => {};
