import type { RoutePlugin } from '@fairlabel/http';

/** The HTTP routes of settlement, mounted by the gateway under /v1. */
export const settlementRoutes: RoutePlugin = {
  name: 'settlement',
  plugin: async () => {},
};
