import { sql, type Kysely } from 'kysely';

// Every ledger transaction (hundreds per consumer batch) inserts an entry into each of the table's
// indexes; two of them bought nothing:
// * UNIQUE (id, currency): id is the primary key, so the pair is unique by it, and no foreign key names
//   the pair (postings carry no declared foreign keys; st_postings_inserted checks a posting's currency
//   against its transaction's once per statement).
// * UNIQUE (reverses_id): a transaction is reversed at most once, but almost none reverse anything,
//   and a plain unique index holds an entry for every null. A partial unique index on the non-null
//   values is the same rule (nulls never conflicted) without an entry per earning.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_id_currency_key;
    CREATE UNIQUE INDEX ledger_transactions_reverses ON ledger_transactions (reverses_id) WHERE reverses_id IS NOT NULL;
    ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_reverses_id_key;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_reverses_id_key UNIQUE (reverses_id);
    DROP INDEX ledger_transactions_reverses;
    ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_id_currency_key UNIQUE (id, currency);
  `.execute(db);
}
