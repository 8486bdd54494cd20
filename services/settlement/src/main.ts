import { runServiceProcess } from '@fairlabel/runtime';

// The settlement process: its queue consumers and schedulers (none yet: its issue has not landed; events
// for its queue wait in Redis until it consumes them).
await runServiceProcess('settlement', async () => ({ workers: [] }));
