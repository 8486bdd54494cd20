import { sql, type Kysely } from 'kysely';

/**
 * The claim commits asynchronously (rule 9 of packages/db/sql/wa_claim.sql). A sequence's WAL record
 * is flushed with the commit of the transaction that used it, so after a crash the assignments' id
 * sequence can be back where it was before the claims Postgres lost, and would hand their ids out
 * again: a worker who held a lost lease could then submit into another lease with the same id.
 *
 * wa_claim_epoch is UNLOGGED, and PostgreSQL empties unlogged tables after a crash (not after a clean
 * shutdown, which flushes every commit). Its one row says "no crash since the ids were last moved on";
 * the first claim that finds it empty moves the sequence a million ids ahead (far more than the claims
 * of the second or so of WAL a crash can lose) and puts the row back, in a transaction that commits
 * synchronously. The row is written here so a new database does not skip ids.
 *
 * down: also drops wa_claim_after_crash, which only its file (packages/db/sql) creates.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE UNLOGGED TABLE wa_claim_epoch (
      one boolean PRIMARY KEY DEFAULT true CHECK (one),
      since timestamptz(3) NOT NULL DEFAULT now()
    );
    INSERT INTO wa_claim_epoch DEFAULT VALUES;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS wa_claim_after_crash(); DROP TABLE wa_claim_epoch`.execute(db);
}
