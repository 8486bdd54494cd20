import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const importRoutes: FastifyPluginAsyncZod = async () => {};
