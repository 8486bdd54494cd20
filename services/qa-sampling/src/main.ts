import { runServiceProcess } from '@fairlabel/runtime';
import { createQaConsumer } from './qa.consumer.js';

// The qa-sampling process: the consumer that records submissions, scores gold and decides tasks.
await runServiceProcess('qa-sampling', async (deps) => {
  const consumer = createQaConsumer(deps, deps.redis);
  return { workers: [consumer] };
});
