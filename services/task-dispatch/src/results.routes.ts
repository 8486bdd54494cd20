import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const resultsRoutes: FastifyPluginAsyncZod = async () => {};
