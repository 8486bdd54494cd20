import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './core.js';

/**
 * Settlement's tables (written by settlement only): the double-entry ledger, rates, the decisions and
 * reviews it has paid, pay runs, statements, invoices, pay floors. Money is bigint minor units; these
 * types read int8 as number (packages/db/src/pool.ts throws past 2^53), and code that adds money reads
 * sums as text and adds them as BigInt.
 */

/** jsonb with a column default. */
type JsonWithDefault<T> = ColumnType<T, T | string | undefined, T | string>;

export type LedgerOwnerType = 'platform' | 'client' | 'vendor' | 'worker';
export type LedgerPurpose =
  | 'client_receivable'
  | 'worker_payable'
  | 'vendor_payable'
  | 'platform_revenue'
  | 'payouts_clearing'
  | 'floor_topup_funding'
  | 'adjustments';
export type LedgerTransactionKind =
  | 'earning'
  | 'rejected_pay'
  | 'earning_correction'
  | 'review_earning'
  | 'client_charge'
  | 'adjustment'
  | 'reversal'
  | 'floor_topup'
  | 'payout';

export interface LedgerAccountsTable {
  id: Generated<number>;
  owner_type: LedgerOwnerType;
  owner_id: string | null;
  purpose: LedgerPurpose;
  currency: string;
  /** Debit-positive sum of the account's postings, kept by a trigger. */
  balance: Generated<number>;
  /** Debit-positive sum of the account's postings no pay run made (what statements cover), kept by the same trigger. */
  statement_balance: Generated<number>;
  created_at: Generated<Date>;
}

export interface LedgerTransactionsTable {
  id: Generated<number>;
  key: string;
  kind: LedgerTransactionKind;
  currency: string;
  effective_at: Timestamp;
  posted_at: Generated<Date>;
  job_id: string | null;
  task_id: number | null;
  assignment_id: number | null;
  review_id: number | null;
  decision_id: number | null;
  worker_id: string | null;
  vendor_id: string | null;
  client_id: string | null;
  pay_run_id: number | null;
  reverses_id: number | null;
  memo: Generated<string>;
  details: JsonWithDefault<Record<string, unknown>>;
  actor_key_id: string | null;
  created_xact: Generated<string>;
}

export interface LedgerPostingsTable {
  transaction_id: number;
  leg: number;
  account_id: number;
  currency: string;
  /** Debit-positive, never 0, |amount| <= ST_MAX_AMOUNT. */
  amount: number;
  pay_run_id: number | null;
}

export interface LevelMultipliersTable {
  level: number;
  effective_from: Timestamp;
  multiplier_bp: number;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
}

export interface VendorContractsTable {
  vendor_id: string;
  effective_from: Timestamp;
  commission_bp: number;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
}

export interface SettlementDecisionsTable {
  decision_id: number;
  assignment_id: number;
  task_id: number;
  job_id: string;
  client_id: string;
  worker_id: string;
  vendor_id: string;
  outcome: 'accepted' | 'rejected';
  kind: 'annotation' | 'gold' | 'verify';
  worker_level: number | null;
  supersedes_decision_id: number | null;
  decided_at: Timestamp;
  received_at: Generated<Date>;
}

export interface SettlementReviewsTable {
  review_id: number;
  reviewer_worker_id: string;
  reviewer_vendor_id: string;
  assignment_id: number;
  job_id: string;
  client_id: string;
  outcome: string;
  time_spent_ms: number | null;
  completed_at: Timestamp;
  received_at: Generated<Date>;
}

/** Workers' hours per currency, UTC hour and client, kept as decisions and reviews are recorded (st_work_hours.sql). */
/**
 * The deferred balance check queued by a database transaction that posts (st_transaction_balanced.sql):
 * written only by the ledger's triggers, empty outside an open transaction.
 */
export interface LedgerBalanceChecksTable {
  /** The database transaction (xid8, as text). */
  xact: string;
  /** Its first ledger transaction: the check covers it and every later one. */
  from_id: number;
}

export interface SettlementWorkHoursTable {
  currency: string;
  hour: Timestamp;
  worker_id: string;
  client_id: string;
  /** Milliseconds (numeric: exact sums), as text. */
  ms: string;
  /** How many pieces of work the row sums (0: none, after an earlier decision moved them). */
  pieces: number;
}

export type PayRunStatus = 'draft' | 'approved' | 'paid';

export interface PayRunsTable {
  id: Generated<number>;
  currency: string;
  period_start: Timestamp;
  period_end: Timestamp;
  status: Generated<PayRunStatus>;
  through_transaction_id: number;
  minimum_payout: number;
  floor_summary: JsonWithDefault<Record<string, unknown>>;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
  approved_by_key_id: string | null;
  approved_at: Timestamp | null;
  paid_at: Timestamp | null;
}

export interface StatementsTable {
  id: Generated<number>;
  pay_run_id: number;
  account_id: number;
  payee_type: 'worker' | 'vendor';
  worker_id: string | null;
  vendor_id: string;
  currency: string;
  after_transaction_id: number;
  through_transaction_id: number;
  earnings: number;
  topup: Generated<number>;
  total: number;
  status: Generated<'unpaid' | 'paid'>;
  payout_reference: string | null;
  paid_at: Timestamp | null;
  payout_transaction_id: number | null;
}

export interface InvoicesTable {
  id: Generated<number>;
  client_id: string;
  account_id: number;
  currency: string;
  period_start: Timestamp;
  period_end: Timestamp;
  after_transaction_id: number;
  through_transaction_id: number;
  total: number;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
}

export interface InvoiceLinesTable {
  invoice_id: number;
  line_no: number;
  kind: string;
  job_id: string | null;
  description: string;
  quantity: number;
  automated_quantity: Generated<number>;
  amount: number;
}

export interface PayFloorsTable {
  id: Generated<number>;
  country: string;
  province: string | null;
  city_tier: number | null;
  currency: string;
  hourly_minor: number;
  effective_from: ColumnType<Date, Date | string, Date | string>;
  basis: string;
  source_url: string;
  source_title: string;
  source_date: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
}

export interface FxRatesTable {
  base: string;
  quote: string;
  effective_from: Timestamp;
  /** numeric, read as a number by the pool; converted in SQL, never used for money in JS. */
  rate: ColumnType<number, string | number, string | number>;
  source: string;
  created_by_key_id: string | null;
  created_at: Generated<Date>;
}

export type FloorMode = 'off' | 'report' | 'top_up';

export interface FloorPoliciesTable {
  client_id: string | null;
  mode: FloorMode;
  funded_by: Generated<'client' | 'platform'>;
  updated_by_key_id: string | null;
  updated_at: Generated<Date>;
}

/** View (packages/db/sql/st_worker_earnings.sql): a worker's earnings per currency, holder-side, as text. */
export interface StWorkerEarningsView {
  worker_id: string;
  currency: string;
  pending: string;
  approved: string;
  paid: string;
}

declare module './work.js' {
  interface JobsTable {
    /** The job's pay terms beyond pay_per_annotation (payPolicySchema in packages/contracts); read by settlement. */
    pay_policy: JsonWithDefault<Record<string, unknown>>;
  }
}

export interface SettlementTables {
  ledger_accounts: LedgerAccountsTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_postings: LedgerPostingsTable;
  ledger_balance_checks: LedgerBalanceChecksTable;
  level_multipliers: LevelMultipliersTable;
  vendor_contracts: VendorContractsTable;
  settlement_decisions: SettlementDecisionsTable;
  settlement_reviews: SettlementReviewsTable;
  settlement_work_hours: SettlementWorkHoursTable;
  pay_runs: PayRunsTable;
  statements: StatementsTable;
  invoices: InvoicesTable;
  invoice_lines: InvoiceLinesTable;
  pay_floors: PayFloorsTable;
  fx_rates: FxRatesTable;
  floor_policies: FloorPoliciesTable;
  st_worker_earnings: StWorkerEarningsView;
}
