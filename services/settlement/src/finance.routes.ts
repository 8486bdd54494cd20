import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  createAdjustmentBody,
  createFxRateBody,
  createInvoiceBody,
  createPayFloorBody,
  createPayRunBody,
  errorResponses,
  floorPolicySchema,
  fxRateSchema,
  invoicePageSchema,
  invoiceSchema,
  ledgerAccountSchema,
  ledgerTransactionSchema,
  levelMultiplierSchema,
  listAccountsQuery,
  listInvoicesQuery,
  listPayRunsQuery,
  listTransactionsQuery,
  numericIdParams,
  pageOf,
  payFloorSchema,
  payRunSchema,
  recordPayoutsBody,
  reconciliationQuery,
  reconciliationSchema,
  reverseTransactionBody,
  setFloorPolicyBody,
  setLevelMultipliersBody,
  setVendorContractBody,
  statementPageSchema,
  statementsQuery,
  vendorContractSchema,
  vendorParams,
} from '@fairlabel/contracts';
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createAdjustment, getTransaction, listAccounts, listLevelMultipliers, listTransactions, listVendorContracts, reverseTransaction, setLevelMultipliers, setVendorContract } from './finance.service.js';
import { createFxRate, createPayFloor, listFloorPolicies, listFxRates, listPayFloors, setFloorPolicy } from './floors.service.js';
import { createInvoice, listInvoices } from './invoices.service.js';
import { approvePayRun, createPayRun, getPayRun, listPayRuns, recordPayouts } from './pay-runs.service.js';
import { reconcile } from './reconciliation.service.js';
import { listStatements, payoutFile, payRunStatementsCsv } from './statements.service.js';

const finance = { roles: ['finance', 'admin'] as const };
const errors = errorResponses(409, 422);
const csvBody = z.string().describe('CSV (RFC 4180) when `format=csv`.');

/**
 * The finance API: the ledger, adjustments and reversals, rates, pay runs and their statements and
 * payout files, invoices, reconciliation, pay floors. Finance and admin keys only (both are platform
 * roles); every change is audit-logged with the key that made it.
 */
export const financeRoutes: FastifyPluginAsyncZod = async (app) => {
  const { deps } = app;
  const { db, clock } = deps;
  const tags = ['finance'];

  app.get(
    '/finance/accounts',
    { config: finance, schema: { operationId: 'listLedgerAccounts', tags, summary: 'Ledger accounts and their balances (kept current, never summed on read)', querystring: listAccountsQuery, response: { 200: pageOf(ledgerAccountSchema), ...errors } } },
    async (request) => listAccounts(db, request.query),
  );

  app.get(
    '/finance/transactions',
    { config: finance, schema: { operationId: 'listLedgerTransactions', tags, summary: 'Ledger transactions with their postings, newest first', querystring: listTransactionsQuery, response: { 200: pageOf(ledgerTransactionSchema), ...errors } } },
    async (request) => listTransactions(db, request.query),
  );

  app.get(
    '/finance/transactions/:id',
    { config: finance, schema: { operationId: 'getLedgerTransaction', tags, summary: 'One ledger transaction with its postings', params: numericIdParams, response: { 200: ledgerTransactionSchema, ...errors } } },
    async (request) => getTransaction(db, request.params.id),
  );

  app.post(
    '/finance/adjustments',
    {
      config: finance,
      schema: {
        operationId: 'createAdjustment',
        tags,
        summary: 'Adjust a worker’s, vendor’s or client’s account (bonus, deduction, credit)',
        description: 'Posts against the platform’s adjustments account. Send an `Idempotency-Key`: a retry with it posts nothing twice. Audit-logged with the key that made it.',
        body: createAdjustmentBody,
        response: { 201: ledgerTransactionSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const header = request.headers['idempotency-key'];
      // The ledger key follows the request key, so even a replay whose stored response was lost posts once.
      const key =
        typeof header === 'string' && header.length > 0 ? createHash('sha256').update(`${caller.organizationId}\n${header}`).digest('hex') : randomUUID();
      return withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createAdjustment(db, caller, request.body, key, clock.now(), deps.metrics) }));
    },
  );

  app.post(
    '/finance/transactions/:id/reversal',
    {
      config: finance,
      schema: {
        operationId: 'reverseLedgerTransaction',
        tags,
        summary: 'Reverse a transaction by a mirror transaction (at most once)',
        description: 'Adjustments, client charges and review pay can be reversed. Pay for decided work follows QA’s decisions (422 `reverse_by_decision`); payouts and top-ups belong to their pay run.',
        params: numericIdParams,
        body: reverseTransactionBody,
        response: { 201: ledgerTransactionSchema, ...errors },
      },
    },
    async (request, reply) =>
      withIdempotency(request, reply, async () => ({ statusCode: 201, body: await reverseTransaction(db, callerOf(request), request.params.id, request.body.reason, clock.now(), deps.metrics) })),
  );

  app.get(
    '/finance/level-multipliers',
    { config: finance, schema: { operationId: 'listLevelMultipliers', tags, summary: 'Pay multipliers per skill level, by effective date', response: { 200: z.array(levelMultiplierSchema), ...errors } } },
    async () => listLevelMultipliers(db),
  );

  app.post(
    '/finance/level-multipliers',
    {
      config: finance,
      schema: { operationId: 'setLevelMultipliers', tags, summary: 'Set level multipliers from a date (now or later)', body: setLevelMultipliersBody, response: { 201: z.array(levelMultiplierSchema), ...errors } },
    },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await setLevelMultipliers(db, callerOf(request), request.body, clock.now()) })),
  );

  app.get(
    '/finance/vendors/:vendor_id/contract',
    { config: finance, schema: { operationId: 'listVendorContract', tags, summary: 'A vendor’s commission rates, by effective date', params: vendorParams, response: { 200: z.array(vendorContractSchema), ...errors } } },
    async (request) => listVendorContracts(db, request.params.vendor_id),
  );

  app.post(
    '/finance/vendors/:vendor_id/contract',
    {
      config: finance,
      schema: { operationId: 'setVendorContract', tags, summary: 'Set a vendor’s commission from a date (now or later)', params: vendorParams, body: setVendorContractBody, response: { 201: z.array(vendorContractSchema), ...errors } },
    },
    async (request, reply) =>
      withIdempotency(request, reply, async () => ({ statusCode: 201, body: await setVendorContract(db, callerOf(request), request.params.vendor_id, request.body, clock.now()) })),
  );

  app.post(
    '/finance/pay-runs',
    {
      config: finance,
      schema: {
        operationId: 'createPayRun',
        tags,
        summary: 'Close a period: gather every unpaid worker and vendor balance into statements (draft)',
        description:
          'Covers the ledger up to `period_end` (which must have passed) and follows the last run of the currency. Adds pay-floor top-ups per the floor policies. ' +
          'Balances under `minimum_payout` carry over. Send an `Idempotency-Key`: a replay returns the same run.',
        body: createPayRunBody,
        response: { 201: payRunSchema, ...errors },
      },
    },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createPayRun(db, callerOf(request), request.body, clock.now(), deps.metrics) })),
  );

  app.get(
    '/finance/pay-runs',
    { config: finance, schema: { operationId: 'listPayRuns', tags, summary: 'Pay runs, newest first', querystring: listPayRunsQuery, response: { 200: pageOf(payRunSchema), ...errors } } },
    async (request) => listPayRuns(db, request.query),
  );

  app.get(
    '/finance/pay-runs/:id',
    { config: finance, schema: { operationId: 'getPayRun', tags, summary: 'One pay run with its totals and what the pay floors did', params: numericIdParams, response: { 200: payRunSchema, ...errors } } },
    async (request) => getPayRun(db, request.params.id),
  );

  app.post(
    '/finance/pay-runs/:id/approve',
    {
      config: finance,
      schema: {
        operationId: 'approvePayRun',
        tags,
        summary: 'Approve a draft pay run',
        description: 'Refused with 409 `reconciliation_discrepancies` (listing them) while reconciliation of the run’s currency up to its period’s end finds any.',
        params: numericIdParams,
        response: { 200: payRunSchema, ...errors },
      },
    },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 200, body: await approvePayRun(db, callerOf(request), request.params.id, clock.now()) })),
  );

  app.post(
    '/finance/pay-runs/:id/payouts',
    {
      config: finance,
      schema: {
        operationId: 'recordPayouts',
        tags,
        summary: 'Record payouts made: one external reference per statement',
        description: 'Posts each payout and marks its statement paid; the run is paid once all are. The same reference again changes nothing; another one for a paid statement is a 409.',
        params: numericIdParams,
        body: recordPayoutsBody,
        response: { 200: payRunSchema, ...errors },
      },
    },
    async (request, reply) =>
      withIdempotency(request, reply, async () => ({ statusCode: 200, body: await recordPayouts(db, callerOf(request), request.params.id, request.body.payouts, clock.now(), deps.metrics) })),
  );

  app.get(
    '/finance/pay-runs/:id/statements',
    {
      config: finance,
      schema: {
        operationId: 'listPayRunStatements',
        tags,
        summary: 'A pay run’s statements, as JSON pages or one CSV',
        params: numericIdParams,
        querystring: statementsQuery,
        response: { 200: z.union([statementPageSchema, csvBody]), ...errors },
      },
    },
    async (request, reply) => {
      const { format, ...page } = request.query;
      if (format === 'csv') {
        const csv = await payRunStatementsCsv(db, request.params.id);
        return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="pay-run-${request.params.id}-statements.csv"`).send(csv);
      }
      await getPayRun(db, request.params.id);
      return listStatements(db, { all: true }, { ...page, pay_run_id: request.params.id });
    },
  );

  app.get(
    '/finance/pay-runs/:id/payout-file',
    {
      config: finance,
      schema: {
        operationId: 'getPayoutFile',
        tags,
        summary: 'The payout file for the payment provider (approved runs): one row per unpaid statement',
        params: numericIdParams,
        response: { 200: csvBody, ...errors },
      },
    },
    async (request, reply) => {
      const csv = await payoutFile(db, request.params.id);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="pay-run-${request.params.id}-payouts.csv"`).send(csv);
    },
  );

  app.get(
    '/finance/reconciliation',
    {
      config: finance,
      schema: {
        operationId: 'reconcile',
        tags,
        summary: 'Reconcile the ledger with the decisions, pay runs and payouts',
        description:
          'Per job: accepted assignments × rates against postings. The ledger total per currency (zero), unbalanced transactions, drifted balances; accepted assignments with no earning or with two; ' +
          'statements against their postings, payouts against statements. Lists every discrepancy (none when all is well).',
        querystring: reconciliationQuery,
        response: { 200: reconciliationSchema, ...errors },
      },
    },
    async (request) => {
      const now = clock.now();
      return reconcile(db, { from: request.query.from ? new Date(request.query.from) : null, to: request.query.to ? new Date(request.query.to) : now, currency: request.query.currency ?? null }, now);
    },
  );

  app.post(
    '/finance/invoices',
    {
      config: finance,
      schema: {
        operationId: 'createInvoice',
        tags,
        summary: 'Invoice a client for a period: one line per job, plus top-ups and adjustments',
        description: 'The period must have ended and follow the client’s last invoice in the currency. Send an `Idempotency-Key`.',
        body: createInvoiceBody,
        response: { 201: invoiceSchema, ...errors },
      },
    },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createInvoice(db, callerOf(request), request.body, clock.now()) })),
  );

  app.get(
    '/finance/invoices',
    { config: finance, schema: { operationId: 'listAllInvoices', tags, summary: 'Every client’s invoices, newest first', querystring: listInvoicesQuery, response: { 200: invoicePageSchema, ...errors } } },
    async (request) => listInvoices(db, null, request.query),
  );

  app.get(
    '/finance/pay-floors',
    { config: finance, schema: { operationId: 'listPayFloors', tags, summary: 'Hourly pay floors per region, each with its public source', response: { 200: z.array(payFloorSchema), ...errors } } },
    async () => listPayFloors(db),
  );

  app.post(
    '/finance/pay-floors',
    { config: finance, schema: { operationId: 'createPayFloor', tags, summary: 'Add an hourly floor for a region (with its source)', body: createPayFloorBody, response: { 201: payFloorSchema, ...errors } } },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createPayFloor(db, callerOf(request), request.body) })),
  );

  app.get(
    '/finance/floor-policies',
    { config: finance, schema: { operationId: 'listFloorPolicies', tags, summary: 'What pay runs do for workers under their floor, per client and by default', response: { 200: z.array(floorPolicySchema), ...errors } } },
    async () => listFloorPolicies(db),
  );

  app.put(
    '/finance/floor-policies',
    {
      config: finance,
      schema: {
        operationId: 'setFloorPolicy',
        tags,
        summary: 'Set a client’s floor policy, or the platform default (client_id null)',
        description: '`off`: nothing; `report`: pay runs count shortfalls; `top_up`: pay runs pay them, charged to the client or to the platform’s floor fund. With no policy at all: `report`.',
        body: setFloorPolicyBody,
        response: { 200: floorPolicySchema, ...errors },
      },
    },
    async (request) => setFloorPolicy(db, callerOf(request), request.body),
  );

  app.get(
    '/finance/fx-rates',
    { config: finance, schema: { operationId: 'listFxRates', tags, summary: 'Exchange rates used to compare floors with pay in another currency', response: { 200: z.array(fxRateSchema), ...errors } } },
    async () => listFxRates(db),
  );

  app.post(
    '/finance/fx-rates',
    { config: finance, schema: { operationId: 'createFxRate', tags, summary: 'Add an exchange rate (1 base = rate quote) from a time', body: createFxRateBody, response: { 201: fxRateSchema, ...errors } } },
    async (request, reply) => withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createFxRate(db, callerOf(request), request.body) })),
  );
};
