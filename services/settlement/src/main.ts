import { runServiceProcess } from '@fairlabel/runtime';
import { createSettlementConsumer } from './settlement.consumer.js';

// The settlement process: the consumer that turns QA's decisions into ledger transactions.
await runServiceProcess('settlement', async (deps) => {
  const consumer = createSettlementConsumer(deps, deps.redis);
  return { workers: [consumer] };
});
