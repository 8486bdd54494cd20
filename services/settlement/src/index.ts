import type { RoutePlugin } from '@fairlabel/http';
import { financeRoutes } from './finance.routes.js';
import { invoiceRoutes } from './invoices.routes.js';
import { reportRoutes } from './reports.routes.js';
import { statementRoutes } from './statements.routes.js';

/** The HTTP routes of settlement, mounted by the gateway under /v1. */
export const settlementRoutes: RoutePlugin = {
  name: 'settlement',
  plugin: async (app) => {
    await app.register(financeRoutes);
    await app.register(statementRoutes);
    await app.register(invoiceRoutes);
    await app.register(reportRoutes);
  },
};
