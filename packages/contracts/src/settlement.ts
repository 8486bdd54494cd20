import { z } from 'zod';
import { countryCodeSchema, currencySchema, pageOf, pageQuerySchema, timestampSchema } from './common.js';
import { MAX_POSTING_MINOR } from './pay-policy.js';

// Settlement's API: the ledger, rates, pay runs and statements, invoices, reconciliation, pay floors
// and the fair-pay report. Money in these responses is a decimal string of integer minor units
// ("1234" = 12.34 USD): totals are summed in SQL and may pass 2^53, where a JSON number loses cents.

export const moneySchema = z
  .string()
  .regex(/^-?\d{1,22}$/)
  .describe('An integer amount of minor units of the currency, as a decimal string (e.g. "1234" = 12.34 USD); may be negative.')
  .meta({ id: 'MinorUnits' });

/** An amount a request names: a JSON integer or a decimal string, at most MAX_POSTING_MINOR in size. */
export const amountInputSchema = z
  .union([z.number().int(), z.string().regex(/^-?\d{1,13}$/).transform(Number)])
  .refine((n) => Math.abs(n) <= MAX_POSTING_MINOR, `at most ${MAX_POSTING_MINOR} minor units`);

const isoInstant = z.iso.datetime({ offset: true });
const period = {
  period_start: isoInstant.describe('Inclusive.'),
  period_end: isoInstant.describe('Exclusive; not in the future.'),
};
const formatQuery = z.enum(['json', 'csv']).default('json');
export const numericIdParams = z.object({ id: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a positive integer id').transform(Number) });

// ---- accounts and transactions ----

export const ledgerOwnerTypeSchema = z.enum(['platform', 'client', 'vendor', 'worker']);
export const ledgerPurposeSchema = z.enum([
  'client_receivable',
  'worker_payable',
  'vendor_payable',
  'platform_revenue',
  'payouts_clearing',
  'floor_topup_funding',
  'adjustments',
]);

export const ledgerAccountSchema = z
  .object({
    id: z.number().int(),
    owner_type: ledgerOwnerTypeSchema,
    owner_id: z.uuid().nullable(),
    purpose: ledgerPurposeSchema,
    currency: currencySchema,
    balance: moneySchema.describe('Sum of the account’s postings, debit-positive (a worker’s payable is negative by what they are owed).'),
    holder_balance: moneySchema.describe('The balance from the holder’s side: what the platform owes a worker or vendor, what a client owes.'),
  })
  .meta({ id: 'LedgerAccount' });

export const listAccountsQuery = pageQuerySchema.extend({
  owner_type: ledgerOwnerTypeSchema.optional(),
  owner_id: z.uuid().optional(),
  purpose: ledgerPurposeSchema.optional(),
  currency: currencySchema.optional(),
});

export const postingSchema = z.object({
  leg: z.number().int(),
  account_id: z.number().int(),
  owner_type: ledgerOwnerTypeSchema,
  owner_id: z.uuid().nullable(),
  purpose: ledgerPurposeSchema,
  amount: moneySchema.describe('Debit-positive.'),
});

export const ledgerTransactionKindSchema = z.enum([
  'earning',
  'rejected_pay',
  'earning_correction',
  'review_earning',
  'client_charge',
  'adjustment',
  'reversal',
  'floor_topup',
  'payout',
]);

export const ledgerTransactionSchema = z
  .object({
    id: z.number().int(),
    key: z.string(),
    kind: ledgerTransactionKindSchema,
    currency: currencySchema,
    effective_at: timestampSchema,
    posted_at: timestampSchema,
    job_id: z.uuid().nullable(),
    assignment_id: z.number().int().nullable(),
    worker_id: z.uuid().nullable(),
    vendor_id: z.uuid().nullable(),
    client_id: z.uuid().nullable(),
    pay_run_id: z.number().int().nullable(),
    reverses_id: z.number().int().nullable(),
    memo: z.string(),
    postings: z.array(postingSchema),
  })
  .meta({ id: 'LedgerTransaction' });

export const listTransactionsQuery = pageQuerySchema.extend({
  kind: ledgerTransactionKindSchema.optional(),
  account_id: z.coerce.number().int().positive().optional(),
  assignment_id: z.coerce.number().int().positive().optional(),
  job_id: z.uuid().optional(),
});

// ---- adjustments and reversals ----

export const accountRefSchema = z
  .strictObject({
    owner_type: z.enum(['worker', 'vendor', 'client']),
    owner_id: z.uuid(),
  })
  .describe('The worker, vendor or client whose account is adjusted (their payable or receivable).');

export const createAdjustmentBody = z
  .strictObject({
    account: accountRefSchema,
    currency: currencySchema,
    amount: amountInputSchema.refine((n) => n !== 0, 'must not be 0').describe(
      'Minor units in the holder’s favour: positive is a bonus or credit (a worker is owed more, a client owes less); negative a deduction or extra charge.',
    ),
    reason: z.string().trim().min(3).max(1000),
  })
  .meta({ id: 'CreateAdjustment' });

export const reverseTransactionBody = z.strictObject({ reason: z.string().trim().min(3).max(1000) }).meta({ id: 'ReverseTransaction' });

// ---- rates ----

export const levelMultiplierSchema = z
  .object({ level: z.number().int(), effective_from: timestampSchema, multiplier_bp: z.number().int() })
  .meta({ id: 'LevelMultiplier' });
export const setLevelMultipliersBody = z
  .strictObject({
    effective_from: isoInstant.describe('Not in the past: work already decided keeps the rate it was decided under.'),
    multipliers: z
      .array(z.strictObject({ level: z.number().int().min(1).max(5), multiplier_bp: z.number().int().min(0).max(100_000) }))
      .min(1)
      .max(5)
      .refine((m) => new Set(m.map((x) => x.level)).size === m.length, 'each level at most once'),
  })
  .meta({ id: 'SetLevelMultipliers' });

export const vendorContractSchema = z
  .object({ vendor_id: z.uuid(), effective_from: timestampSchema, commission_bp: z.number().int() })
  .meta({ id: 'VendorContract' });
export const setVendorContractBody = z
  .strictObject({
    effective_from: isoInstant.describe('Not in the past.'),
    commission_bp: z.number().int().min(0).max(10_000).describe('The vendor’s share of its workers’ gross pay, in basis points.'),
  })
  .meta({ id: 'SetVendorContract' });
export const vendorParams = z.object({ vendor_id: z.uuid() });

// ---- pay runs and statements ----

export const payRunStatusSchema = z.enum(['draft', 'approved', 'paid']);

export const createPayRunBody = z
  .strictObject({
    currency: currencySchema,
    ...period,
    minimum_payout: amountInputSchema
      .refine((n) => n >= 0, 'must not be negative')
      .default(0)
      .describe('Balances under this carry over to the next run.'),
  })
  .refine((b) => Date.parse(b.period_start) < Date.parse(b.period_end), { message: 'period_start must be before period_end', path: ['period_start'] })
  .meta({ id: 'CreatePayRun' });

export const floorOutcomeSchema = z.object({
  workers_under_floor: z.number().int(),
  topped_up: z.number().int(),
  topup_total: moneySchema,
  unfunded_shortfall: moneySchema.describe('Shortfalls whose clients’ policy is `report` (or `off`): reported, not paid.'),
  workers_without_floor: z.number().int().describe('Workers with hours whose region has no floor, or no exchange rate to this currency.'),
});

export const payRunSchema = z
  .object({
    id: z.number().int(),
    currency: currencySchema,
    period_start: timestampSchema,
    period_end: timestampSchema,
    status: payRunStatusSchema,
    minimum_payout: moneySchema,
    through_transaction_id: z.number().int(),
    statements: z.number().int(),
    worker_total: moneySchema,
    vendor_total: moneySchema,
    total: moneySchema,
    paid_statements: z.number().int(),
    floors: floorOutcomeSchema.nullable().describe('What the pay floors did in this run (null for runs listed without detail).'),
    created_at: timestampSchema,
    approved_at: timestampSchema.nullable(),
    paid_at: timestampSchema.nullable(),
  })
  .meta({ id: 'PayRun' });

export const listPayRunsQuery = pageQuerySchema.extend({ status: payRunStatusSchema.optional(), currency: currencySchema.optional() });

export const statementLineSchema = z.object({
  kind: ledgerTransactionKindSchema,
  job_id: z.uuid().nullable(),
  transactions: z.number().int(),
  amount: moneySchema,
});

export const statementSchema = z
  .object({
    id: z.number().int(),
    pay_run_id: z.number().int(),
    payee_type: z.enum(['worker', 'vendor']),
    worker_id: z.uuid().nullable(),
    vendor_id: z.uuid(),
    payee_name: z.string(),
    currency: currencySchema,
    period_start: timestampSchema,
    period_end: timestampSchema,
    pay_run_status: payRunStatusSchema,
    earnings: moneySchema.describe('Earnings, corrections and adjustments in the statement’s range of the ledger.'),
    topup: moneySchema.describe('Pay-floor top-up added by this run.'),
    total: moneySchema,
    status: z.enum(['unpaid', 'paid']),
    payout_reference: z.string().nullable(),
    paid_at: timestampSchema.nullable(),
  })
  .meta({ id: 'Statement' });

export const statementDetailSchema = statementSchema
  .extend({ lines: z.array(statementLineSchema).describe('The statement’s ledger transactions grouped by kind and job.') })
  .meta({ id: 'StatementDetail' });

export const statementPageSchema = pageOf(statementSchema).meta({ id: 'StatementPage' });
export const statementsQuery = pageQuerySchema.extend({ format: formatQuery });
export const listStatementsQuery = pageQuerySchema.extend({
  worker_id: z.uuid().optional(),
  pay_run_id: z.coerce.number().int().positive().optional(),
});

export const recordPayoutsBody = z
  .strictObject({
    payouts: z
      .array(z.strictObject({ statement_id: z.number().int().positive(), reference: z.string().trim().min(1).max(200) }))
      .min(1)
      .max(10_000),
  })
  .meta({ id: 'RecordPayouts' });

// ---- earnings (worker) ----

export const earningsByCurrencySchema = z
  .object({ currency: currencySchema, pending: moneySchema, approved: moneySchema, paid: moneySchema })
  .describe('pending: earned, not yet in an approved pay run; approved: in an approved run, not yet paid out; paid: paid out.')
  .meta({ id: 'LedgerEarnings' });
export const myEarningsSchema = z.object({ by_currency: z.array(earningsByCurrencySchema) }).meta({ id: 'MyEarnings' });

// ---- invoices ----

export const createInvoiceBody = z
  .strictObject({ client_id: z.uuid(), currency: currencySchema, ...period })
  .refine((b) => Date.parse(b.period_start) < Date.parse(b.period_end), { message: 'period_start must be before period_end', path: ['period_start'] })
  .meta({ id: 'CreateInvoice' });

export const invoiceLineSchema = z.object({
  line_no: z.number().int(),
  kind: z.string(),
  job_id: z.uuid().nullable(),
  description: z.string(),
  quantity: z.number().int(),
  automated_quantity: z.number().int(),
  amount: moneySchema,
});
export const invoiceSchema = z
  .object({
    id: z.number().int(),
    client_id: z.uuid(),
    currency: currencySchema,
    period_start: timestampSchema,
    period_end: timestampSchema,
    total: moneySchema,
    created_at: timestampSchema,
    lines: z.array(invoiceLineSchema),
  })
  .meta({ id: 'Invoice' });
export const invoicePageSchema = pageOf(invoiceSchema.omit({ lines: true })).meta({ id: 'InvoicePage' });
export const listInvoicesQuery = pageQuerySchema.extend({ client_id: z.uuid().optional().describe('Finance only.') });
export const invoiceQuery = z.object({ format: formatQuery });

// ---- reconciliation ----

export const reconciliationQuery = z
  .strictObject({
    from: isoInstant.optional().describe('Decisions and postings from this instant (inclusive); default: the beginning.'),
    to: isoInstant.optional().describe('Up to this instant (exclusive); default: now.'),
    currency: currencySchema.optional(),
  });

export const discrepancySchema = z
  .object({
    code: z.enum([
      'ledger_unbalanced',
      'transaction_unbalanced',
      'balance_drift',
      'missing_earning',
      'duplicate_earning',
      'amount_mismatch',
      'decision_mismatch',
      'statement_mismatch',
      'pay_run_mismatch',
      'payout_mismatch',
    ]),
    message: z.string(),
    currency: currencySchema.nullable(),
    job_id: z.uuid().nullable(),
    assignment_id: z.number().int().nullable(),
    account_id: z.number().int().nullable(),
    pay_run_id: z.number().int().nullable(),
    statement_id: z.number().int().nullable(),
    transaction_id: z.number().int().nullable(),
    expected: moneySchema.nullable(),
    actual: moneySchema.nullable(),
  })
  .meta({ id: 'Discrepancy' });

export const reconciliationSchema = z
  .object({
    from: timestampSchema.nullable(),
    to: timestampSchema,
    currency: currencySchema.nullable(),
    ok: z.boolean().describe('True when no discrepancy was found.'),
    ledger: z.array(z.object({ currency: currencySchema, transactions: z.number().int(), total: moneySchema.describe('Sum of all postings: 0.') })),
    jobs: z.array(
      z.object({
        job_id: z.uuid(),
        currency: currencySchema,
        accepted: z.number().int(),
        rejected: z.number().int(),
        expected_pay: moneySchema.describe('Accepted (and paid-rejected) assignments × rates: the gross the decisions are worth.'),
        posted_pay: moneySchema.describe('Gross posted for those assignments.'),
        charged: moneySchema.describe('Client charges posted for the job’s decided items.'),
      }),
    ),
    jobs_truncated: z.boolean(),
    discrepancies: z.array(discrepancySchema),
    discrepancy_count: z.number().int(),
  })
  .meta({ id: 'Reconciliation' });

// ---- pay floors ----

export const payFloorSchema = z
  .object({
    id: z.number().int(),
    country: z.string(),
    province: z.string().nullable(),
    city_tier: z.number().int().nullable(),
    currency: currencySchema,
    hourly_minor: z.number().int(),
    effective_from: z.string().describe('A date, YYYY-MM-DD.'),
    basis: z.string(),
    source_url: z.string(),
    source_title: z.string(),
    source_date: z.string().nullable(),
  })
  .meta({ id: 'PayFloor' });

const isoDate = z.iso.date();
export const createPayFloorBody = z
  .strictObject({
    country: countryCodeSchema,
    province: z.string().trim().min(1).max(64).nullable().default(null),
    city_tier: z.number().int().min(1).max(5).nullable().default(null),
    currency: currencySchema,
    hourly_minor: z.number().int().min(1).max(1_000_000_000),
    effective_from: isoDate,
    basis: z.string().trim().min(1).max(1000).describe('How the hourly figure follows from the source (e.g. a daily wage ÷ 8 legal hours).'),
    source_url: z.url({ protocol: /^https?$/ }),
    source_title: z.string().trim().min(1).max(300),
    source_date: isoDate.nullable().default(null),
  })
  .meta({ id: 'CreatePayFloor' });

export const floorPolicySchema = z
  .object({ client_id: z.uuid().nullable(), mode: z.enum(['off', 'report', 'top_up']), funded_by: z.enum(['client', 'platform']), updated_at: timestampSchema })
  .meta({ id: 'FloorPolicy' });
export const setFloorPolicyBody = z
  .strictObject({
    client_id: z.uuid().nullable().describe('null: the platform default, for clients without a policy of their own.'),
    mode: z.enum(['off', 'report', 'top_up']),
    funded_by: z.enum(['client', 'platform']).default('platform').describe('Whose account pays top-ups: the client’s receivable or the platform’s floor fund.'),
  })
  .meta({ id: 'SetFloorPolicy' });

export const fxRateSchema = z
  .object({ base: currencySchema, quote: currencySchema, effective_from: timestampSchema, rate: z.string(), source: z.string() })
  .meta({ id: 'FxRate' });
export const createFxRateBody = z
  .strictObject({
    base: currencySchema,
    quote: currencySchema,
    effective_from: isoInstant,
    rate: z.string().regex(/^\d{1,18}(\.\d{1,12})?$/, 'a positive decimal, e.g. "0.0119"').describe('1 unit of base = rate units of quote.'),
    source: z.string().trim().min(1).max(500),
  })
  .refine((b) => b.base !== b.quote, { message: 'base and quote differ', path: ['quote'] })
  .meta({ id: 'CreateFxRate' });

// ---- fair-pay report ----

export const fairPayQuery = z
  .strictObject({
    from: isoInstant,
    to: isoInstant,
    currency: currencySchema.describe('Earnings in this currency; floors are converted to it.'),
    format: formatQuery,
  })
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: 'from must be before to', path: ['from'] });

const cohortRate = z.object({
  cohort: z.string(),
  count: z.number().int().describe('Decided assignments (rejections) or workers (suspensions).'),
  events: z.number().int(),
  rate: z.number().nullable(),
  rest_rate: z.number().nullable(),
  z: z.number().nullable().describe('Two-proportion z statistic of the cohort against everyone else.'),
  p_value: z.number().nullable(),
  stands_out: z.boolean().describe('Rate above the rest with p below 0.05 ÷ the number of cohorts (Bonferroni).'),
});

export const fairPayWorkerSchema = z.object({
  worker_id: z.uuid(),
  vendor_id: z.uuid(),
  country: z.string(),
  province: z.string().nullable(),
  city_tier: z.number().int(),
  hours: z.number(),
  earnings: moneySchema,
  effective_hourly: moneySchema.nullable().describe('Earnings per hour worked, minor units (rounded down); null without hours.'),
  floor_hourly: moneySchema.nullable().describe('The region’s floor in the report currency (rounded up); null when none applies.'),
  under_floor: z.boolean(),
  shortfall: moneySchema.describe('What would bring the worker to the floor for these hours (0 when at or above).'),
  topups: moneySchema,
});

export const fairPayReportSchema = z
  .object({
    from: timestampSchema,
    to: timestampSchema,
    currency: currencySchema,
    workers: z.array(fairPayWorkerSchema),
    summary: z.object({
      workers: z.number().int(),
      hours: z.number(),
      earnings: moneySchema,
      workers_under_floor: z.number().int(),
      hours_under_floor: z.number(),
      workers_without_floor: z.number().int(),
      gini: z.number().nullable().describe('Gini coefficient of worker earnings in the period (0 = equal, 1 = one worker earns all).'),
      topups: moneySchema,
      median_effective_hourly: moneySchema.nullable(),
    }),
    by_tier: z.array(z.object({ city_tier: z.number().int(), workers: z.number().int(), hours: z.number(), earnings: moneySchema, workers_under_floor: z.number().int() })),
    by_vendor: z.array(z.object({ vendor_id: z.uuid(), workers: z.number().int(), hours: z.number(), earnings: moneySchema, workers_under_floor: z.number().int() })),
    rejection_rates: z.object({ by_tier: z.array(cohortRate), by_vendor: z.array(cohortRate) }),
    suspension_rates: z.object({ by_tier: z.array(cohortRate), by_vendor: z.array(cohortRate) }),
    automation: z.object({
      decided_items: z.number().int(),
      automated_items: z.number().int(),
      share: z.number().nullable().describe('Share of decided items a model decided with no human.'),
    }),
  })
  .meta({ id: 'FairPayReport' });
