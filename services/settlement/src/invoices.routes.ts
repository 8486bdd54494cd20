import { z } from 'zod';
import { errorResponses, invoicePageSchema, invoiceQuery, invoiceSchema, listInvoicesQuery, numericIdParams } from '@fairlabel/contracts';
import { callerOf, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { getInvoice, invoiceCsv, listInvoices } from './invoices.service.js';

const errors = errorResponses();

/** Invoices as a client reads them (its own; another client's is a 404), and as finance does. */
export const invoiceRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;
  const tags = ['invoices'];
  const clientScope = (role: string, orgId: string) => (role === 'client' ? orgId : null);

  app.get(
    '/invoices',
    { config: { roles: ['client', 'finance', 'admin'] }, schema: { operationId: 'listInvoices', tags, summary: 'Your invoices, newest first', querystring: listInvoicesQuery, response: { 200: invoicePageSchema, ...errors } } },
    async (request) => {
      const caller = callerOf(request);
      return listInvoices(db, clientScope(caller.role, caller.organizationId), request.query);
    },
  );

  app.get(
    '/invoices/:id',
    {
      config: { roles: ['client', 'finance', 'admin'] },
      schema: {
        operationId: 'getInvoice',
        tags,
        summary: 'One invoice with its lines per job, as JSON or CSV',
        params: numericIdParams,
        querystring: invoiceQuery,
        response: { 200: z.union([invoiceSchema, z.string().describe('CSV when `format=csv`.')]), ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const invoice = await getInvoice(db, clientScope(caller.role, caller.organizationId), request.params.id);
      if (request.query.format === 'csv') {
        return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="invoice-${invoice.id}.csv"`).send(invoiceCsv(invoice));
      }
      return invoice;
    },
  );
};
