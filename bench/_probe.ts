import { createDb, createPool, sql, withDatabase } from '@fairlabel/db';
import { loadConfig } from '@fairlabel/config';
import { workersInPeriod } from '../services/settlement/src/floors.js';
const url = withDatabase(loadConfig().DATABASE_URL, process.argv[2]!);
const db = createDb(createPool(url, 2));
const t = async (name: string, fn: () => Promise<unknown>) => { const s = performance.now(); await fn(); console.log(name, (performance.now() - s).toFixed(0), 'ms'); };
for (let i = 0; i < 2; i++) {
await t('groupby', () => sql`SELECT p.account_id, sum(p.amount) FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id WHERE a.purpose IN ('worker_payable', 'vendor_payable') AND a.currency = 'USD' GROUP BY p.account_id`.execute(db));
await t('workersInPeriod', () => workersInPeriod(db, 'USD', new Date('2026-01-01'), new Date()));
await t('ranged', () => sql`
    WITH cursors AS (SELECT account_id, max(through_transaction_id) AS after FROM statements WHERE currency = 'USD' AND false GROUP BY account_id),
    payable AS (SELECT a.id, a.owner_type, a.owner_id, coalesce(c.after, 0) AS after FROM ledger_accounts a LEFT JOIN cursors c ON c.account_id = a.id WHERE a.purpose IN ('worker_payable', 'vendor_payable') AND a.currency = 'USD')
    SELECT p.account_id, -sum(p.amount) AS earnings FROM payable y JOIN ledger_postings p ON p.account_id = y.id AND p.transaction_id > y.after AND p.transaction_id <= 100000000 WHERE p.pay_run_id IS NULL GROUP BY p.account_id`.execute(db));
}
await db.destroy();
