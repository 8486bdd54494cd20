import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const jobRoutes: FastifyPluginAsyncZod = async () => {};
