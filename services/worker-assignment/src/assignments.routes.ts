import type { FastifyPluginAsyncZod } from '@fairlabel/http';

export const assignmentRoutes: FastifyPluginAsyncZod = async () => {};
