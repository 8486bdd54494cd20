import { sql, type Kysely } from 'kysely';

/**
 * Settlement's tables: a double-entry ledger, rates, the decisions it has seen, pay runs and their
 * statements, invoices, pay floors. Settlement is their only writer (README "Who writes which table");
 * the functions and triggers that hold the ledger's rules are in packages/db/sql/st_*.sql.
 *
 * Money is bigint minor units of a currency. One posting is at most ST_MAX_AMOUNT (10^12 minor units,
 * see sql-constants.ts), so a sum of postings overflows bigint only past 9 million maximal postings,
 * and Postgres raises an error rather than wrapping. Sums that can pass 2^53 leave SQL as text.
 *
 * Sign convention: a posting's amount is positive for a debit and negative for a credit (assets and
 * expenses grow with debits; what the platform owes workers and vendors grows with credits). APIs show
 * amounts from the holder's side: what a worker is owed is the negated balance of their payable account.
 *
 * `jobs.pay_policy` is task-dispatch's column (the job's pay terms beyond pay_per_annotation: review
 * and verify rates, automation price, rejection pay), validated by payPolicySchema in
 * packages/contracts; settlement reads it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE EXTENSION IF NOT EXISTS btree_gist;

    ALTER TABLE jobs ADD COLUMN pay_policy jsonb NOT NULL DEFAULT '{}';

    CREATE TABLE ledger_accounts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      owner_type text NOT NULL CHECK (owner_type IN ('platform', 'client', 'vendor', 'worker')),
      -- organizations.id for clients and vendors, workers.id for workers, null for the platform.
      owner_id uuid,
      purpose text NOT NULL CHECK (purpose IN ('client_receivable', 'worker_payable', 'vendor_payable', 'platform_revenue', 'payouts_clearing', 'floor_topup_funding', 'adjustments')),
      currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      -- The sum of the account's postings (debit-positive), kept by the st_postings_inserted trigger
      -- in the transaction that posts, so reading a balance never scans postings.
      balance bigint NOT NULL DEFAULT 0,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE NULLS NOT DISTINCT (owner_type, owner_id, purpose, currency),
      UNIQUE (id, currency),
      CHECK ((owner_type = 'platform') = (owner_id IS NULL)),
      CHECK (CASE owner_type
        WHEN 'client' THEN purpose = 'client_receivable'
        WHEN 'worker' THEN purpose = 'worker_payable'
        WHEN 'vendor' THEN purpose = 'vendor_payable'
        ELSE purpose IN ('platform_revenue', 'payouts_clearing', 'floor_topup_funding', 'adjustments') END)
    -- Balances change with every posting batch, the platform's and big clients' accounts in every one.
    -- Free room on each page keeps those updates HOT (balance is in no index): no new index entries per
    -- update, and old versions are pruned in place; a full page would leave a trail of dead index
    -- entries that every lookup of a hot account has to walk (measured: seconds after 20k batches).
    ) WITH (fillfactor = 30);
    CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner_id, purpose);

    CREATE TABLE ledger_transactions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- The business key (assignment:<id>:earning, task:<id>:charge, ...): a redelivered event or a
      -- replayed request finds its key taken and posts nothing (TigerBeetle's transfer id).
      key text NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 200),
      kind text NOT NULL CHECK (kind IN ('earning', 'rejected_pay', 'earning_correction', 'review_earning', 'client_charge', 'adjustment', 'reversal', 'floor_topup', 'payout')),
      currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      -- When the work or decision happened (decided_at); reports and floors count by it.
      effective_at timestamptz(3) NOT NULL,
      -- When it was posted: taken under the ledger lock (st_ledger_lock), so it grows with id and a
      -- pay run or invoice can cut the ledger at a time by an id.
      posted_at timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
      job_id uuid,
      task_id bigint,
      assignment_id bigint,
      review_id bigint,
      decision_id bigint,
      worker_id uuid,
      vendor_id uuid,
      client_id uuid,
      -- Set for postings a pay run makes (top-ups, payouts): they belong to that run, never to the
      -- ranges of transactions that statements cover.
      pay_run_id bigint,
      -- A transaction is reversed at most once, by a transaction that names it (checked to exist by
      -- st_transactions_inserted once per statement rather than by a per-row foreign key).
      reverses_id bigint UNIQUE,
      memo text NOT NULL DEFAULT '' CHECK (length(memo) <= 1000),
      details jsonb NOT NULL DEFAULT '{}',
      actor_key_id uuid,
      -- The top-level transaction that created it: postings may be added only in that transaction
      -- (st_postings_inserted), so the deferred balance check at its commit sees every posting.
      created_xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
      UNIQUE (id, currency)
    );
    CREATE INDEX ledger_transactions_posted ON ledger_transactions (posted_at, id);
    CREATE INDEX ledger_transactions_assignment ON ledger_transactions (assignment_id) WHERE assignment_id IS NOT NULL;
    CREATE INDEX ledger_transactions_effective ON ledger_transactions (effective_at, kind);
    CREATE INDEX ledger_transactions_job ON ledger_transactions (job_id, kind) WHERE job_id IS NOT NULL;
    CREATE INDEX ledger_transactions_pay_run ON ledger_transactions (pay_run_id) WHERE pay_run_id IS NOT NULL;

    -- (transaction_id, leg) is the key: no separate id index to maintain per posting. No declared
    -- foreign keys: their RI triggers fire once per row; st_postings_inserted checks both references
    -- once per statement.
    CREATE TABLE ledger_postings (
      transaction_id bigint NOT NULL,
      leg smallint NOT NULL CHECK (leg BETWEEN 1 AND 1000),
      account_id bigint NOT NULL,
      currency char(3) NOT NULL,
      amount bigint NOT NULL CHECK (amount <> 0 AND amount BETWEEN -1000000000000 AND 1000000000000),
      -- Copied from the transaction: statement ranges sum the postings where it is null.
      pay_run_id bigint,
      PRIMARY KEY (transaction_id, leg)
    );
    CREATE INDEX ledger_postings_account ON ledger_postings (account_id, transaction_id) INCLUDE (amount, pay_run_id);

    -- Operator-edited pay multipliers per skill level, effective from a time (default L1 1.00 .. L5 1.60).
    -- Basis points: 10000 = 1.00, so no float touches money.
    CREATE TABLE level_multipliers (
      level smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
      effective_from timestamptz(3) NOT NULL,
      multiplier_bp integer NOT NULL CHECK (multiplier_bp BETWEEN 0 AND 100000),
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (level, effective_from)
    );
    INSERT INTO level_multipliers (level, effective_from, multiplier_bp) VALUES
      (1, '1970-01-01', 10000), (2, '1970-01-01', 11500), (3, '1970-01-01', 13000), (4, '1970-01-01', 14500), (5, '1970-01-01', 16000);

    -- A vendor's commission on its workers' gross pay, effective from a time (none: 0).
    CREATE TABLE vendor_contracts (
      vendor_id uuid NOT NULL REFERENCES organizations(id),
      effective_from timestamptz(3) NOT NULL,
      commission_bp integer NOT NULL CHECK (commission_bp BETWEEN 0 AND 10000),
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (vendor_id, effective_from)
    );

    -- Every assignment.decided settlement has seen (one row per QA decision). The ledger for an
    -- assignment is made to match its current decision: the one no other decision supersedes.
    CREATE TABLE settlement_decisions (
      decision_id bigint PRIMARY KEY,
      assignment_id bigint NOT NULL,
      task_id bigint NOT NULL,
      job_id uuid NOT NULL,
      client_id uuid NOT NULL,
      worker_id uuid NOT NULL,
      vendor_id uuid NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
      kind text NOT NULL CHECK (kind IN ('annotation', 'gold', 'verify')),
      worker_level smallint CHECK (worker_level BETWEEN 1 AND 5),
      supersedes_decision_id bigint,
      decided_at timestamptz(3) NOT NULL,
      received_at timestamptz(3) NOT NULL DEFAULT now()
    );
    CREATE INDEX settlement_decisions_assignment ON settlement_decisions (assignment_id);

    -- Every review.completed settlement has paid (time spent counts toward the reviewer's hours).
    CREATE TABLE settlement_reviews (
      review_id bigint PRIMARY KEY,
      reviewer_worker_id uuid NOT NULL,
      reviewer_vendor_id uuid NOT NULL,
      assignment_id bigint NOT NULL,
      job_id uuid NOT NULL,
      client_id uuid NOT NULL,
      outcome text NOT NULL,
      time_spent_ms integer CHECK (time_spent_ms >= 0),
      completed_at timestamptz(3) NOT NULL,
      received_at timestamptz(3) NOT NULL DEFAULT now()
    );
    CREATE INDEX settlement_reviews_worker ON settlement_reviews (reviewer_worker_id, completed_at);

    CREATE TABLE pay_runs (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      period_start timestamptz(3) NOT NULL,
      period_end timestamptz(3) NOT NULL,
      status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'paid')),
      -- The run covers ledger transactions up to this id (the last one posted before period_end).
      through_transaction_id bigint NOT NULL,
      minimum_payout bigint NOT NULL CHECK (minimum_payout BETWEEN 0 AND 1000000000000),
      -- What the pay floors did in this run (workers under floor, topped up, unfunded shortfall).
      floor_summary jsonb NOT NULL DEFAULT '{}',
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      approved_by_key_id uuid,
      approved_at timestamptz(3),
      paid_at timestamptz(3),
      CHECK (period_start < period_end),
      -- Periods of one currency never overlap.
      EXCLUDE USING gist (currency WITH =, tstzrange(period_start, period_end) WITH &&)
    );

    -- One per payee (a worker's or a vendor's payable account) per run. It covers the account's ledger
    -- transactions in (after_transaction_id, through_transaction_id] that no run made, plus its
    -- top-up in this run. Ranges of one account never overlap: a posting is in at most one run.
    CREATE TABLE statements (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      pay_run_id bigint NOT NULL REFERENCES pay_runs(id),
      account_id bigint NOT NULL REFERENCES ledger_accounts(id),
      payee_type text NOT NULL CHECK (payee_type IN ('worker', 'vendor')),
      worker_id uuid,
      vendor_id uuid NOT NULL,
      currency char(3) NOT NULL,
      after_transaction_id bigint NOT NULL,
      through_transaction_id bigint NOT NULL,
      -- Holder-side amounts (what the payee is owed): the range's postings, the run's top-up, their sum.
      earnings bigint NOT NULL,
      topup bigint NOT NULL DEFAULT 0 CHECK (topup >= 0),
      total bigint NOT NULL CHECK (total > 0),
      status text NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paid')),
      payout_reference text CHECK (length(payout_reference) BETWEEN 1 AND 200),
      paid_at timestamptz(3),
      payout_transaction_id bigint,
      CHECK (total = earnings + topup),
      CHECK (after_transaction_id <= through_transaction_id),
      CHECK ((payee_type = 'worker') = (worker_id IS NOT NULL)),
      CHECK ((status = 'paid') = (payout_reference IS NOT NULL AND paid_at IS NOT NULL AND payout_transaction_id IS NOT NULL)),
      UNIQUE (pay_run_id, account_id),
      EXCLUDE USING gist (account_id WITH =, int8range(after_transaction_id, through_transaction_id, '(]') WITH &&)
    );
    CREATE INDEX statements_account ON statements (account_id, through_transaction_id);
    CREATE INDEX statements_worker ON statements (worker_id, id) WHERE worker_id IS NOT NULL;
    CREATE INDEX statements_vendor ON statements (vendor_id, id);

    -- A client's invoice for a period: its receivable's transactions in (after, through], by job.
    CREATE TABLE invoices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      client_id uuid NOT NULL REFERENCES organizations(id),
      account_id bigint NOT NULL REFERENCES ledger_accounts(id),
      currency char(3) NOT NULL,
      period_start timestamptz(3) NOT NULL,
      period_end timestamptz(3) NOT NULL,
      after_transaction_id bigint NOT NULL,
      through_transaction_id bigint NOT NULL,
      total bigint NOT NULL,
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      CHECK (period_start < period_end),
      CHECK (after_transaction_id <= through_transaction_id),
      EXCLUDE USING gist (client_id WITH =, currency WITH =, tstzrange(period_start, period_end) WITH &&),
      EXCLUDE USING gist (account_id WITH =, int8range(after_transaction_id, through_transaction_id, '(]') WITH &&)
    );
    CREATE INDEX invoices_client ON invoices (client_id, id);

    CREATE TABLE invoice_lines (
      invoice_id bigint NOT NULL REFERENCES invoices(id),
      line_no integer NOT NULL,
      kind text NOT NULL,
      job_id uuid,
      description text NOT NULL,
      quantity bigint NOT NULL,
      automated_quantity bigint NOT NULL DEFAULT 0,
      amount bigint NOT NULL,
      PRIMARY KEY (invoice_id, line_no)
    );

    -- Hourly pay floors per region, the most specific match wins (country+province+tier, country+
    -- province, country+tier, country). Every row names its public source.
    CREATE TABLE pay_floors (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
      province text,
      city_tier smallint CHECK (city_tier BETWEEN 1 AND 5),
      currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      hourly_minor bigint NOT NULL CHECK (hourly_minor BETWEEN 1 AND 1000000000),
      effective_from date NOT NULL,
      basis text NOT NULL CHECK (length(basis) BETWEEN 1 AND 1000),
      source_url text NOT NULL CHECK (source_url ~ '^https?://'),
      source_title text NOT NULL CHECK (length(source_title) BETWEEN 1 AND 300),
      source_date date,
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE NULLS NOT DISTINCT (country, province, city_tier, effective_from)
    );

    -- Converts a floor into a pay run's currency: 1 unit of base = rate units of quote.
    CREATE TABLE fx_rates (
      base char(3) NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
      quote char(3) NOT NULL CHECK (quote ~ '^[A-Z]{3}$'),
      effective_from timestamptz(3) NOT NULL,
      rate numeric(30, 12) NOT NULL CHECK (rate > 0),
      source text NOT NULL CHECK (length(source) BETWEEN 1 AND 500),
      created_by_key_id uuid,
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      PRIMARY KEY (base, quote, effective_from),
      CHECK (base <> quote)
    );

    -- What a pay run does for workers under their floor: per client, or the platform default (client_id
    -- null). off: nothing; report: list them; top_up: pay the shortfall, funded by the client or the platform.
    CREATE TABLE floor_policies (
      client_id uuid REFERENCES organizations(id),
      mode text NOT NULL CHECK (mode IN ('off', 'report', 'top_up')),
      funded_by text NOT NULL DEFAULT 'platform' CHECK (funded_by IN ('client', 'platform')),
      updated_by_key_id uuid,
      updated_at timestamptz(3) NOT NULL DEFAULT now(),
      UNIQUE NULLS NOT DISTINCT (client_id)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP VIEW IF EXISTS st_worker_earnings;
    DROP TABLE floor_policies, fx_rates, pay_floors, invoice_lines, invoices, statements, pay_runs, settlement_reviews,
      settlement_decisions, vendor_contracts, level_multipliers, ledger_postings, ledger_transactions, ledger_accounts;
    DROP FUNCTION IF EXISTS st_ledger_lock(), st_bp(bigint, integer), st_postings_inserted(), st_ledger_immutable(), st_transaction_balanced(),
      st_transactions_inserted(), st_ledger_lock_held(), st_expected_pay(bigint[]), st_settle_assignments(bigint[]), st_record_decisions(jsonb),
      st_record_task_charges(jsonb), st_record_reviews(jsonb);
    ALTER TABLE jobs DROP COLUMN pay_policy;
  `.execute(db);
}
