import { sql, type Db } from '@fairlabel/db';
import { money } from './money.js';

export interface ReconcileOptions {
  from?: Date | null;
  to: Date;
  currency?: string | null;
}

type Code =
  | 'ledger_unbalanced'
  | 'transaction_unbalanced'
  | 'balance_drift'
  | 'missing_earning'
  | 'duplicate_earning'
  | 'amount_mismatch'
  | 'decision_mismatch'
  | 'statement_mismatch'
  | 'pay_run_mismatch'
  | 'payout_mismatch';

export interface Discrepancy {
  code: Code;
  message: string;
  currency: string | null;
  job_id: string | null;
  assignment_id: number | null;
  account_id: number | null;
  pay_run_id: number | null;
  statement_id: number | null;
  transaction_id: number | null;
  expected: string | null;
  actual: string | null;
}

const MAX_LISTED = 1000;
const MAX_JOBS = 500;

function discrepancy(code: Code, message: string, fields: Partial<Omit<Discrepancy, 'code' | 'message'>> = {}): Discrepancy {
  return {
    code,
    message,
    currency: null,
    job_id: null,
    assignment_id: null,
    account_id: null,
    pay_run_id: null,
    statement_id: null,
    transaction_id: null,
    expected: null,
    actual: null,
    ...fields,
  };
}

/**
 * Checks that the ledger accounts for every decision, to the cent:
 * - the ledger: postings of each currency sum to zero; every transaction posted in the window has at
 *   least two postings summing to zero; each account's kept balance equals the sum of its postings;
 * - assignments decided in the window (QA's decisions settlement recorded, and the assignments
 *   worker-assignment marked accepted or rejected): each current decision's worth (st_expected_pay,
 *   the rule the consumer posts by) against what is posted for it; an accepted assignment with no
 *   earning, with two, or paid another amount; an assignment whose status disagrees with the decision
 *   settlement holds (an event not yet, or never, delivered);
 * - pay runs ending by `to`: each statement's total against the postings of its range and its top-up,
 *   each paid statement against its payout posting, a paid run with unpaid statements.
 * Lists every discrepancy (the first 1000, with the count); none when all is well.
 */
export async function reconcile(db: Db, opts: ReconcileOptions, _now: Date) {
  const from = opts.from ?? null;
  const to = opts.to;
  const currency = opts.currency ?? null;
  const found: Discrepancy[] = [];
  let count = 0;
  const add = (d: Discrepancy) => {
    count += 1;
    if (found.length < MAX_LISTED) found.push(d);
  };

  const ledger = await sql<{ currency: string; transactions: number; total: string }>`
    SELECT t.currency, t.transactions, coalesce(p.total, 0)::text AS total
    FROM (SELECT currency, count(*)::int AS transactions FROM ledger_transactions WHERE ${currency}::text IS NULL OR currency = ${currency} GROUP BY currency) t
    LEFT JOIN (SELECT currency, sum(amount) AS total FROM ledger_postings WHERE ${currency}::text IS NULL OR currency = ${currency} GROUP BY currency) p
      ON p.currency = t.currency
    ORDER BY t.currency
  `.execute(db);
  for (const l of ledger.rows) {
    if (l.total !== '0') add(discrepancy('ledger_unbalanced', `the ${l.currency} ledger sums to ${l.total}, not 0`, { currency: l.currency, expected: '0', actual: l.total }));
  }

  const unbalanced = await sql<{ id: number; currency: string; total: string; n: number }>`
    SELECT t.id, t.currency, coalesce(sum(p.amount), 0)::text AS total, count(p.transaction_id)::int AS n
    FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id
    WHERE t.posted_at < ${to} AND (${from}::timestamptz IS NULL OR t.posted_at >= ${from}) AND (${currency}::text IS NULL OR t.currency = ${currency})
    GROUP BY t.id, t.currency
    HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.transaction_id) < 2
    LIMIT ${MAX_LISTED}
  `.execute(db);
  for (const u of unbalanced.rows) {
    add(discrepancy('transaction_unbalanced', `transaction ${u.id} has ${u.n} postings summing to ${u.total}`, { currency: u.currency, transaction_id: u.id, expected: '0', actual: u.total }));
  }

  // Both kept sums: balance (every posting) and statement_balance (the postings no pay run made, which pay runs read).
  const drift = await sql<{ id: number; currency: string; balance: string; total: string; statement_balance: string; statement_total: string }>`
    SELECT a.id, a.currency, a.balance::text AS balance, coalesce(s.total, 0)::text AS total,
      a.statement_balance::text AS statement_balance, coalesce(s.statement_total, 0)::text AS statement_total
    FROM ledger_accounts a
    LEFT JOIN (SELECT account_id, sum(amount) AS total, sum(amount) FILTER (WHERE pay_run_id IS NULL) AS statement_total
               FROM ledger_postings GROUP BY account_id) s ON s.account_id = a.id
    WHERE (a.balance <> coalesce(s.total, 0) OR a.statement_balance <> coalesce(s.statement_total, 0)) AND (${currency}::text IS NULL OR a.currency = ${currency})
    LIMIT ${MAX_LISTED}
  `.execute(db);
  for (const d of drift.rows) {
    if (d.balance !== d.total) {
      add(discrepancy('balance_drift', `account ${d.id} keeps balance ${d.balance} but its postings sum to ${d.total}`, { currency: d.currency, account_id: d.id, expected: d.total, actual: d.balance }));
    }
    if (d.statement_balance !== d.statement_total) {
      add(
        discrepancy('balance_drift', `account ${d.id} keeps statement balance ${d.statement_balance} but its postings outside pay runs sum to ${d.statement_total}`, {
          currency: d.currency,
          account_id: d.id,
          expected: d.statement_total,
          actual: d.statement_balance,
        }),
      );
    }
  }

  const { jobs, jobsTruncated } = await db.transaction().execute(async (trx) => {
    // One pass over the window's assignments into a scratch table, then the per-job summary and the
    // discrepancies are read from it.
    await sql`
      CREATE TEMP TABLE recon_assignments ON COMMIT DROP AS
      WITH scope AS (
        SELECT d.assignment_id FROM settlement_decisions d
        WHERE d.decided_at < ${to} AND (${from}::timestamptz IS NULL OR d.decided_at >= ${from})
        UNION
        SELECT a.id FROM assignments a
        WHERE a.status IN ('accepted', 'rejected') AND a.decided_at < ${to} AND (${from}::timestamptz IS NULL OR a.decided_at >= ${from})
      ),
      expected AS (SELECT * FROM st_expected_pay(ARRAY(SELECT assignment_id FROM scope))),
      posted AS (
        SELECT t.assignment_id,
          count(DISTINCT t.id) FILTER (WHERE t.kind = 'earning') AS earnings,
          coalesce(-sum(p.amount) FILTER (WHERE a.purpose = 'worker_payable'), 0) AS worker_amount,
          coalesce(-sum(p.amount) FILTER (WHERE a.purpose = 'vendor_payable'), 0) AS vendor_amount
        FROM ledger_transactions t
        JOIN ledger_postings p ON p.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = p.account_id
        WHERE t.assignment_id IN (SELECT assignment_id FROM scope) AND t.kind IN ('earning', 'rejected_pay', 'earning_correction')
        GROUP BY t.assignment_id
      )
      SELECT s.assignment_id, coalesce(e.job_id, wa.job_id) AS job_id, coalesce(e.currency, j.currency) AS currency,
        wa.status AS wa_status, e.outcome, coalesce(e.gross, 0) AS expected_gross,
        coalesce(e.worker_amount, 0) AS expected_worker, coalesce(e.vendor_amount, 0) AS expected_vendor,
        coalesce(p.earnings, 0) AS earnings, coalesce(p.worker_amount, 0) AS posted_worker, coalesce(p.vendor_amount, 0) AS posted_vendor
      FROM scope s
      LEFT JOIN expected e ON e.assignment_id = s.assignment_id
      LEFT JOIN posted p ON p.assignment_id = s.assignment_id
      LEFT JOIN assignments wa ON wa.id = s.assignment_id
      LEFT JOIN jobs j ON j.id = wa.job_id
    `.execute(trx);
    const rows = await sql<{
      assignment_id: number;
      job_id: string | null;
      currency: string | null;
      wa_status: string | null;
      outcome: string | null;
      expected_gross: string;
      expected_worker: string;
      expected_vendor: string;
      earnings: number;
      posted_worker: string;
      posted_vendor: string;
    }>`
      SELECT assignment_id, job_id, currency, wa_status, outcome, expected_gross::text, expected_worker::text, expected_vendor::text,
        earnings::int, posted_worker::text, posted_vendor::text
      FROM recon_assignments
      WHERE (${currency}::text IS NULL OR currency = ${currency})
        AND ((wa_status IN ('accepted', 'rejected') AND wa_status IS DISTINCT FROM outcome)
          OR earnings > 1 OR posted_worker <> expected_worker OR posted_vendor <> expected_vendor)
      ORDER BY assignment_id
      LIMIT ${MAX_LISTED}
    `.execute(trx);
    for (const r of rows.rows) {
      const at = { currency: r.currency, job_id: r.job_id, assignment_id: r.assignment_id };
      const expected = BigInt(r.expected_worker) + BigInt(r.expected_vendor);
      const posted = BigInt(r.posted_worker) + BigInt(r.posted_vendor);
      if (r.outcome === null) {
        const code = r.wa_status === 'accepted' ? 'missing_earning' : 'decision_mismatch';
        add(discrepancy(code, `assignment ${r.assignment_id} is ${r.wa_status}, but settlement has no decision for it (assignment.decided not delivered?)`, { ...at, actual: money(posted) }));
      } else if (r.wa_status !== null && r.wa_status !== 'submitted' && r.wa_status !== r.outcome) {
        add(discrepancy('decision_mismatch', `assignment ${r.assignment_id} is ${r.wa_status}, but the decision settlement paid is ${r.outcome}`, at));
      }
      if (r.outcome === null) continue;
      if (r.earnings > 1 || (expected > 0n && posted >= 2n * expected)) {
        add(discrepancy('duplicate_earning', `assignment ${r.assignment_id} has ${r.earnings} earnings totalling ${posted} for a decision worth ${expected}`, { ...at, expected: money(expected), actual: money(posted) }));
      } else if (r.outcome === 'accepted' && expected > 0n && posted === 0n) {
        add(discrepancy('missing_earning', `accepted assignment ${r.assignment_id} has no earning (worth ${expected})`, { ...at, expected: money(expected), actual: '0' }));
      } else if (r.posted_worker !== r.expected_worker || r.posted_vendor !== r.expected_vendor) {
        add(
          discrepancy('amount_mismatch', `assignment ${r.assignment_id}: posted ${r.posted_worker} to the worker and ${r.posted_vendor} to the vendor; its decision is worth ${r.expected_worker} and ${r.expected_vendor}`, {
            ...at,
            expected: money(expected),
            actual: money(posted),
          }),
        );
      }
    }
    const perJob = await sql<{ job_id: string; currency: string; accepted: number; rejected: number; expected_pay: string; posted_pay: string; charged: string }>`
      SELECT r.job_id, r.currency,
        count(*) FILTER (WHERE r.outcome = 'accepted')::int AS accepted,
        count(*) FILTER (WHERE r.outcome = 'rejected')::int AS rejected,
        sum(r.expected_gross)::text AS expected_pay,
        sum(r.posted_worker + r.posted_vendor)::text AS posted_pay,
        coalesce((SELECT sum(t.amount) FROM (
          SELECT (ct.details->>'price')::bigint AS amount FROM ledger_transactions ct
          WHERE ct.job_id = r.job_id AND ct.kind = 'client_charge' AND ct.effective_at < ${to} AND (${from}::timestamptz IS NULL OR ct.effective_at >= ${from})) t), 0)::text AS charged
      FROM recon_assignments r
      WHERE r.job_id IS NOT NULL AND (${currency}::text IS NULL OR r.currency = ${currency})
      GROUP BY r.job_id, r.currency
      ORDER BY r.job_id
      LIMIT ${MAX_JOBS + 1}
    `.execute(trx);
    return { jobs: perJob.rows.slice(0, MAX_JOBS), jobsTruncated: perJob.rows.length > MAX_JOBS };
  });

  const statements = await sql<{
    id: number;
    pay_run_id: number;
    account_id: number;
    currency: string;
    earnings: string;
    topup: string;
    total: string;
    status: string;
    run_status: string;
    ranged: string;
    topped: string;
    payout: string | null;
  }>`
    SELECT s.id, s.pay_run_id, s.account_id, s.currency, s.earnings::text, s.topup::text, s.total::text, s.status, r.status AS run_status,
      coalesce((SELECT -sum(p.amount) FROM ledger_postings p
                WHERE p.account_id = s.account_id AND p.transaction_id > s.after_transaction_id AND p.transaction_id <= s.through_transaction_id
                  AND p.pay_run_id IS NULL), 0)::text AS ranged,
      coalesce((SELECT -sum(p.amount) FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
                WHERE t.pay_run_id = s.pay_run_id AND t.kind = 'floor_topup' AND p.account_id = s.account_id), 0)::text AS topped,
      (SELECT sum(p.amount) FROM ledger_postings p WHERE p.transaction_id = s.payout_transaction_id AND p.account_id = s.account_id)::text AS payout
    FROM statements s JOIN pay_runs r ON r.id = s.pay_run_id
    WHERE r.period_end <= ${to} AND (${currency}::text IS NULL OR s.currency = ${currency})
  `.execute(db);
  for (const s of statements.rows) {
    const at = { currency: s.currency, pay_run_id: s.pay_run_id, statement_id: s.id, account_id: s.account_id };
    if (s.ranged !== s.earnings || s.topped !== s.topup) {
      add(discrepancy('statement_mismatch', `statement ${s.id} says ${s.earnings} + top-up ${s.topup}; its postings sum to ${s.ranged} + ${s.topped}`, { ...at, expected: money(BigInt(s.ranged) + BigInt(s.topped)), actual: s.total }));
    }
    if (s.status === 'paid' && s.payout !== s.total) {
      add(discrepancy('payout_mismatch', `statement ${s.id} is paid, but its payout posted ${s.payout ?? 'nothing'} against a total of ${s.total}`, { ...at, expected: s.total, actual: s.payout }));
    }
    if (s.run_status === 'paid' && s.status !== 'paid') {
      add(discrepancy('pay_run_mismatch', `pay run ${s.pay_run_id} is paid, but statement ${s.id} is not`, at));
    }
  }

  return {
    from,
    to,
    currency,
    ok: count === 0,
    ledger: ledger.rows.map((l) => ({ currency: l.currency, transactions: l.transactions, total: money(l.total) })),
    jobs: jobs.map((j) => ({ ...j, expected_pay: money(j.expected_pay), posted_pay: money(j.posted_pay), charged: money(j.charged) })),
    jobs_truncated: jobsTruncated,
    discrepancies: found,
    discrepancy_count: count,
  };
}
