import { runServiceProcess } from '@fairlabel/runtime';

// The task-dispatch process: its queue consumers and schedulers (none yet: its issue has not landed; events
// for its queue wait in Redis until it consumes them).
await runServiceProcess('task-dispatch', async () => ({ workers: [] }));
