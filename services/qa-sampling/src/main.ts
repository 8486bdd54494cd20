import { runServiceProcess } from '@fairlabel/runtime';

// The qa-sampling process: its queue consumers and schedulers (none yet: its issue has not landed; events
// for its queue wait in Redis until it consumes them).
await runServiceProcess('qa-sampling', async () => ({ workers: [] }));
