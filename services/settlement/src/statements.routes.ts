import { errorResponses, listStatementsQuery, myEarningsSchema, numericIdParams, statementDetailSchema, statementPageSchema, pageQuerySchema } from '@fairlabel/contracts';
import { callerOf, forbidden, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { getStatement, listStatements, scopeOf, workerEarnings } from './statements.service.js';

const errors = errorResponses();

/**
 * Statements as their readers see them: a worker their own, a vendor its own and its workers', finance
 * and admin all. Another's statement is a 404.
 */
export const statementRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;
  const tags = ['statements'];

  app.get(
    '/statements',
    {
      config: { roles: ['worker', 'vendor', 'finance', 'admin'] },
      schema: {
        operationId: 'listStatements',
        tags,
        summary: 'Statements you may read, newest first (a vendor: its own and its workers’)',
        querystring: listStatementsQuery,
        response: { 200: statementPageSchema, ...errors },
      },
    },
    async (request) => listStatements(db, scopeOf(callerOf(request)), request.query),
  );

  app.get(
    '/statements/:id',
    {
      config: { roles: ['worker', 'vendor', 'finance', 'admin'] },
      schema: { operationId: 'getStatement', tags, summary: 'One statement with its lines by kind and job', params: numericIdParams, response: { 200: statementDetailSchema, ...errors } },
    },
    async (request) => getStatement(db, scopeOf(callerOf(request)), request.params.id),
  );

  app.get(
    '/me/statements',
    {
      config: { roles: ['worker'] },
      schema: { operationId: 'listMyStatements', tags: ['me'], summary: 'Your statements, newest first', querystring: pageQuerySchema, response: { 200: statementPageSchema, ...errors } },
    },
    async (request) => {
      const caller = callerOf(request);
      if (!caller.workerId) throw forbidden('a worker key is needed');
      return listStatements(db, { workerId: caller.workerId }, request.query);
    },
  );

  app.get(
    '/me/earnings',
    {
      config: { roles: ['worker'] },
      schema: {
        operationId: 'getMyEarnings',
        tags: ['me'],
        summary: 'What you have earned, from the ledger: pending, approved for payout, paid',
        response: { 200: myEarningsSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      if (!caller.workerId) throw forbidden('a worker key is needed');
      return workerEarnings(db, caller.workerId);
    },
  );
};
