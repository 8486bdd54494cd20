import { sql, type Kysely } from 'kysely';

// The deferred balance check of the ledger (packages/db/sql/st_transaction_balanced.sql) is queued once
// per database transaction instead of once per ledger transaction. Postgres has only row-level
// constraint triggers: on ledger_transactions, a batch of 500 queued 500 firings at commit (each a
// tuple fetch and a function call that found the batch already checked), 4.5 ms of a 7.5 ms commit
// (measured, batches of 500). Instead the statement trigger on ledger_transactions
// (st_transactions_inserted) inserts one row here per database transaction, naming the first ledger
// transaction it created; the deferred constraint trigger on this table checks, at commit, every
// ledger transaction from that one on (the writer's own: writers hold the ledger lock) and deletes the
// row. So the table is empty outside an open transaction.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ledger_balance_checks (
      xact xid8 PRIMARY KEY,
      from_id bigint NOT NULL
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE ledger_balance_checks`.execute(db);
}
