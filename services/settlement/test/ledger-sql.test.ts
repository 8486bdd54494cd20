import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { integrationTest, Seed } from '@fairlabel/testing';
import { asDecision, decided, ledgerIsConsistent, post, world } from './helpers.js';

// The ledger's rules held by the database itself (packages/db/sql/st_*.sql), tested with SQL: an
// unbalanced transaction is refused at commit, postings and transactions cannot be changed or removed,
// postings cannot be slipped into another transaction's ledger entry, writers must hold the ledger lock,
// and balances follow the postings.

const test = integrationTest()
  /** A world with one accepted decision posted, and its accounts (file-wide: the ledger rules are checked against them). */
  .extend('ledger', { scope: 'file' }, async ({ env }) => {
    const w = await world(new Seed(env.db));
    await post(env.db, asDecision(decided(w.assignments[0]!, w.client.organizationId, 'accepted')));
    const accounts = await env.db.selectFrom('ledger_accounts').select(['id', 'purpose']).execute();
    return {
      w,
      workerAccount: accounts.find((a) => a.purpose === 'worker_payable')!.id,
      platformAccount: accounts.find((a) => a.purpose === 'platform_revenue')!.id,
    };
  })
  .extend('w', { scope: 'file' }, async ({ ledger }) => ledger.w)
  .extend('workerAccount', { scope: 'file' }, async ({ ledger }) => ledger.workerAccount)
  .extend('platformAccount', { scope: 'file' }, async ({ ledger }) => ledger.platformAccount)
  /** Runs statements in one database transaction on one connection; returns the error Postgres raised. */
  .extend('attempt', { scope: 'file' }, async ({ env }) => async (statements: string[]): Promise<{ code?: string; message: string } | null> => {
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      for (const s of statements) await client.query(s);
      await client.query('COMMIT');
      return null;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      return err as { code?: string; message: string };
    } finally {
      client.release();
    }
  });

const newTx = (key: string) => `INSERT INTO ledger_transactions (key, kind, currency, effective_at) VALUES ('${key}', 'adjustment', 'USD', now())`;
const leg = (key: string, n: number, account: number, amount: number) =>
  `INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount) SELECT id, ${n}, ${account}, 'USD', ${amount} FROM ledger_transactions WHERE key = '${key}'`;

describe('the database enforces the ledger', () => {
  test('accepts a balanced transaction whose legs come in separate statements, and moves balances', async ({ env, workerAccount, platformAccount, attempt }) => {
    const before = await env.db.selectFrom('ledger_accounts').select(['id', 'balance']).where('id', 'in', [workerAccount, platformAccount]).execute();
    expect(await attempt(['SELECT st_ledger_lock()', newTx('t-ok'), leg('t-ok', 1, workerAccount, -70), leg('t-ok', 2, platformAccount, 70)])).toBeNull();
    const after = await env.db.selectFrom('ledger_accounts').select(['id', 'balance']).where('id', 'in', [workerAccount, platformAccount]).execute();
    for (const a of after) expect(a.balance - before.find((b) => b.id === a.id)!.balance).toBe(a.id === workerAccount ? -70 : 70);
  });

  test('refuses at commit a transaction whose postings do not sum to zero', async ({ env, workerAccount, platformAccount, attempt }) => {
    const err = await attempt(['SELECT st_ledger_lock()', newTx('t-bad'), leg('t-bad', 1, workerAccount, -70), leg('t-bad', 2, platformAccount, 69)]);
    expect(err?.code).toBe('23514');
    expect(err?.message).toMatch(/does not balance/);
    expect(await env.db.selectFrom('ledger_transactions').select('id').where('key', '=', 't-bad').executeTakeFirst()).toBeUndefined();
  });

  test('refuses a transaction with a single posting, or none', async ({ workerAccount, attempt }) => {
    expect((await attempt(['SELECT st_ledger_lock()', newTx('t-one'), leg('t-one', 1, workerAccount, -70)]))?.message).toMatch(/does not balance: 1 postings/);
    expect((await attempt(['SELECT st_ledger_lock()', newTx('t-none')]))?.message).toMatch(/does not balance: 0 postings/);
  });

  test('checks a whole batch at commit: one unbalanced transaction among balanced ones is found and refused', async ({ env, workerAccount, platformAccount, attempt }) => {
    const err = await attempt([
      'SELECT st_ledger_lock()',
      newTx('t-b1'),
      newTx('t-b2'),
      newTx('t-b3'),
      leg('t-b1', 1, workerAccount, -5),
      leg('t-b1', 2, platformAccount, 5),
      leg('t-b2', 1, workerAccount, -6),
      leg('t-b2', 2, platformAccount, 5),
      leg('t-b3', 1, workerAccount, -7),
      leg('t-b3', 2, platformAccount, 7),
    ]);
    expect(err?.code).toBe('23514');
    expect(err?.message).toMatch(/\(t-b2\) does not balance: 2 postings summing to -1/);
    expect(await env.db.selectFrom('ledger_transactions').select('key').where('key', 'like', 't-b%').execute()).toEqual([]);
  });

  test('checks again what is inserted after SET CONSTRAINTS … IMMEDIATE ran the check', async ({ workerAccount, platformAccount, attempt }) => {
    const err = await attempt([
      'SELECT st_ledger_lock()',
      newTx('t-i1'),
      leg('t-i1', 1, workerAccount, -5),
      leg('t-i1', 2, platformAccount, 5),
      'SET CONSTRAINTS ALL IMMEDIATE',
      'SET CONSTRAINTS ALL DEFERRED',
      newTx('t-i2'),
      leg('t-i2', 1, workerAccount, -5),
    ]);
    expect(err?.message).toMatch(/\(t-i2\) does not balance: 1 postings/);
  });

  test('checks once per database transaction, whatever happens to the queued check, and leaves nothing queued', async ({ env, workerAccount, platformAccount, attempt }) => {
    // Two statements of ledger transactions queue one check (one row in ledger_balance_checks) naming the first.
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT st_ledger_lock()');
      await client.query(newTx('t-q1'));
      await client.query(newTx('t-q2'));
      const queued = await client.query<{ n: number; first: string }>(
        `SELECT count(*)::int AS n, min(from_id)::text AS first FROM ledger_balance_checks WHERE xact = pg_current_xact_id()`,
      );
      const first = await client.query<{ id: string }>(`SELECT id::text FROM ledger_transactions WHERE key = 't-q1'`);
      expect(queued.rows[0]).toEqual({ n: 1, first: first.rows[0]!.id });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    // Deleting the queued row does not skip the check: the deferred trigger reads the row as inserted.
    const err = await attempt(['SELECT st_ledger_lock()', newTx('t-del'), leg('t-del', 1, workerAccount, -5), leg('t-del', 2, platformAccount, 4), 'DELETE FROM ledger_balance_checks']);
    expect(err?.code).toBe('23514');
    expect(err?.message).toMatch(/\(t-del\) does not balance/);
    // A committed transaction leaves no row behind.
    expect(await attempt(['SELECT st_ledger_lock()', newTx('t-q3'), leg('t-q3', 1, workerAccount, -5), leg('t-q3', 2, platformAccount, 5)])).toBeNull();
    expect(await env.db.selectFrom('ledger_balance_checks').selectAll().execute()).toEqual([]);
  });

  test('refuses a posting added to a transaction created by another database transaction', async ({ workerAccount, platformAccount, attempt }) => {
    expect(await attempt(['SELECT st_ledger_lock()', newTx('t-later'), leg('t-later', 1, workerAccount, -5), leg('t-later', 2, platformAccount, 5)])).toBeNull();
    // Two more legs that would still balance: refused anyway, the transaction is closed.
    const err = await attempt(['SELECT st_ledger_lock()', leg('t-later', 3, workerAccount, -1), leg('t-later', 4, platformAccount, 1)]);
    expect(err?.code).toBe('23503');
  });

  test('refuses a posting whose currency differs from its account and transaction', async ({ workerAccount, attempt }) => {
    const err = await attempt([
      'SELECT st_ledger_lock()',
      newTx('t-cur'),
      `INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount) SELECT id, 1, ${workerAccount}, 'EUR', -5 FROM ledger_transactions WHERE key = 't-cur'`,
    ]);
    expect(err?.code).toBe('23503');
  });

  test('refuses, in a statement of good postings, one whose account does not exist or holds another currency', async ({ workerAccount, platformAccount, attempt }) => {
    // The balance UPDATE must touch as many accounts as the statement names (account, currency) pairs.
    const missing = await attempt([
      'SELECT st_ledger_lock()',
      newTx('t-acct'),
      `INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount)
       SELECT id, l.leg, l.account, 'USD', l.amount FROM ledger_transactions, (VALUES (1, ${workerAccount}, -5), (2, ${platformAccount}, 4), (3, 999999999, 1)) l(leg, account, amount)
       WHERE key = 't-acct'`,
    ]);
    expect(missing?.code).toBe('23503');
    expect(missing?.message).toMatch(/posting \(\d+, 3\) names an account that does not exist in its currency/);
    // A EUR transaction whose EUR postings name USD accounts: the transaction matches, the accounts do not.
    const other = await attempt([
      'SELECT st_ledger_lock()',
      `INSERT INTO ledger_transactions (key, kind, currency, effective_at) VALUES ('t-eur', 'adjustment', 'EUR', now())`,
      `INSERT INTO ledger_postings (transaction_id, leg, account_id, currency, amount)
       SELECT id, l.leg, l.account, 'EUR', l.amount FROM ledger_transactions, (VALUES (1, ${workerAccount}, -5), (2, ${platformAccount}, 5)) l(leg, account, amount)
       WHERE key = 't-eur'`,
    ]);
    expect(other?.code).toBe('23503');
    expect(other?.message).toMatch(/names an account that does not exist in its currency/);
  });

  test('refuses a second reversal of one transaction', async ({ workerAccount, platformAccount, attempt }) => {
    expect(await attempt(['SELECT st_ledger_lock()', newTx('t-rev'), leg('t-rev', 1, workerAccount, -9), leg('t-rev', 2, platformAccount, 9)])).toBeNull();
    const reversal = (key: string) => [
      `INSERT INTO ledger_transactions (key, kind, currency, effective_at, reverses_id) SELECT '${key}', 'reversal', 'USD', now(), id FROM ledger_transactions WHERE key = 't-rev'`,
      leg(key, 1, workerAccount, 9),
      leg(key, 2, platformAccount, -9),
    ];
    expect(await attempt(['SELECT st_ledger_lock()', ...reversal('t-rev-1')])).toBeNull();
    expect((await attempt(['SELECT st_ledger_lock()', ...reversal('t-rev-2')]))?.code).toBe('23505');
  });

  test('refuses ledger writes made without the ledger lock', async ({ workerAccount, platformAccount, attempt }) => {
    const err = await attempt([newTx('t-nolock'), leg('t-nolock', 1, workerAccount, -5), leg('t-nolock', 2, platformAccount, 5)]);
    expect(err?.message).toMatch(/ledger lock/);
  });

  test('refuses UPDATE, DELETE and TRUNCATE of postings and transactions', async ({ attempt }) => {
    for (const statement of [
      'UPDATE ledger_postings SET amount = amount + 1',
      'DELETE FROM ledger_postings',
      'TRUNCATE ledger_postings',
      "UPDATE ledger_transactions SET memo = 'changed'",
      'DELETE FROM ledger_transactions',
      'TRUNCATE ledger_transactions CASCADE',
    ]) {
      const err = await attempt([statement]);
      expect(err?.message, statement).toMatch(/immutable/);
    }
  });

  test('refuses a posting of 0 or beyond the maximum amount', async ({ workerAccount, platformAccount, attempt }) => {
    expect((await attempt(['SELECT st_ledger_lock()', newTx('t-zero'), leg('t-zero', 1, workerAccount, 0)]))?.code).toBe('23514');
    expect((await attempt(['SELECT st_ledger_lock()', newTx('t-huge'), leg('t-huge', 1, workerAccount, -1_000_000_000_001), leg('t-huge', 2, platformAccount, 1_000_000_000_001)]))?.code).toBe('23514');
  });

  test('stamps a transaction at or before the moment it was inserted, so a pay run cut at that moment covers it', async ({ env }) => {
    // posted_at is a timestamptz(3): rounding clock_timestamp() stamped about half of all transactions up
    // to half a millisecond after they were inserted; it truncates now. Rolled back: nothing stays.
    const client = await env.pool.connect();
    const late: number[] = [];
    try {
      await client.query('BEGIN');
      await client.query('SELECT st_ledger_lock()');
      for (let i = 0; i < 40; i++) {
        const r = await client.query<{ ok: boolean }>(
          `INSERT INTO ledger_transactions (key, kind, currency, effective_at) VALUES ($1, 'adjustment', 'USD', now()) RETURNING posted_at <= clock_timestamp() AS ok`,
          [`t-stamp-${i}`],
        );
        if (!r.rows[0]!.ok) late.push(i);
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(late).toEqual([]);
  });

  test('leaves every transaction balanced and every balance equal to its postings', async ({ env }) => {
    expect(await ledgerIsConsistent(env.db)).toEqual({ unbalanced: 0, drifted: 0, total: '0' });
    // What committed: the decision's earning, t-ok, t-q3, t-later, t-rev and its one reversal; every refused write left nothing.
    const ids = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ledger_transactions`.execute(env.db);
    expect(ids.rows[0]!.n).toBe(6);
  });
});
