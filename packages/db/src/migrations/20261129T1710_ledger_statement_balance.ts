import { sql, type Kysely } from 'kysely';

// What a pay run pays each payee is the sum of the account's postings that no pay run made (pay_run_id
// null: not top-ups, not payouts) in (the end of its last statement, the run's cut]. Summing those
// postings made a pay run cost a pass over the period's postings. statement_balance keeps that sum per
// account, current like balance (st_postings_inserted, one UPDATE per account per statement), so a run
// reads it from the accounts: statement_balance, less the postings after the cut (posted after the
// period's end: usually few), less what the account's earlier statements covered (their ranges run
// back to the first posting without a gap). Not in any index, like balance: updates stay HOT.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE ledger_accounts ADD COLUMN statement_balance bigint NOT NULL DEFAULT 0;
    UPDATE ledger_accounts a SET statement_balance = s.total
    FROM (SELECT account_id, sum(amount) AS total FROM ledger_postings WHERE pay_run_id IS NULL GROUP BY account_id) s
    WHERE a.id = s.account_id;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE ledger_accounts DROP COLUMN statement_balance`.execute(db);
}
