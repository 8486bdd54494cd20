import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const webhookRoutes: FastifyPluginAsyncZod = async () => {};
