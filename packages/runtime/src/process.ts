import { announceReady, type Logger } from '@fairlabel/observability';

/**
 * Runs a long-lived process: `start` returns a stop function; SIGTERM/SIGINT call it once, and the
 * process exits when it resolves (or after `graceMs`, so a stuck handler cannot hold a deploy). Once
 * started it tells a supervising parent that it is up (see announceReady).
 */
export async function runUntilSignal(opts: {
  logger: Logger;
  graceMs: number;
  start: () => Promise<() => Promise<void>>;
}): Promise<void> {
  const stop = await opts.start();
  announceReady();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    opts.logger.info({ signal }, 'shutting down: finishing in-flight work');
    const timer = setTimeout(() => {
      opts.logger.error('shutdown grace period over; exiting with work unfinished');
      process.exit(1);
    }, opts.graceMs);
    timer.unref();
    stop().then(
      () => {
        opts.logger.info('stopped cleanly');
        process.exit(0);
      },
      (err) => {
        opts.logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
