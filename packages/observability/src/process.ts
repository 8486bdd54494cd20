import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

/**
 * The policy every fairlabel process follows for errors nobody caught, installed first thing in each
 * entry point:
 *
 * - An unhandled promise rejection is a bug (a background promise nobody awaited or caught; the lint
 *   rule `no-floating-promises` keeps new ones out), but the state it leaves is the state of one
 *   request or job, which has failed already. The process logs it, counts it
 *   (`fairlabel_process_unhandled_errors_total{kind="rejection"}`, alert on any increase) and keeps
 *   serving: one bad promise must not take every in-flight request down with it.
 * - An uncaught exception unwound a stack in the middle of something synchronous, so in-memory state
 *   may be half-changed. The process logs it, counts it, and exits 70 (EX_SOFTWARE); the supervisor
 *   (or the orchestrator) starts a clean one. Postgres holds the truth, so nothing is lost.
 */
export function installProcessGuards(opts: { logger: Logger; registry?: Registry; exit?: (code: number) => void }): Counter<'kind'> {
  const counter = new Counter({
    name: 'fairlabel_process_unhandled_errors_total',
    help: 'Unhandled promise rejections and uncaught exceptions (each is a bug to fix)',
    labelNames: ['kind'] as const,
    registers: opts.registry ? [opts.registry] : [],
  });
  counter.inc({ kind: 'rejection' }, 0);
  counter.inc({ kind: 'exception' }, 0);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  process.on('unhandledRejection', (reason) => {
    counter.inc({ kind: 'rejection' });
    opts.logger.error({ err: reason }, 'unhandled promise rejection: a promise was neither awaited nor caught; the process keeps running');
  });
  process.on('uncaughtException', (err, origin) => {
    counter.inc({ kind: 'exception' });
    opts.logger.fatal({ err, origin }, 'uncaught exception: in-memory state may be inconsistent; exiting so a clean process replaces this one');
    exit(70);
  });
  return counter;
}

/**
 * Tells the supervisor (`pnpm start`, which spawns its children with an IPC channel) that this process
 * is up, so it can say when a restarted process is serving again; and makes an orphan stop itself
 * gracefully when the supervisor goes away (its IPC channel closes), instead of holding ports and
 * consuming queues with nobody watching. A process started any other way has no channel: no-op.
 */
export function announceReady(): void {
  if (!process.send || !process.connected) return;
  process.send({ type: 'ready' });
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
  });
  // The channel must not keep an otherwise finished process alive.
  process.channel?.unref();
}

/**
 * Serves `GET /metrics` (Prometheus text) on its own port, for the processes that have no HTTP API of
 * their own (outbox relay, service consumers). Port 0 in the config means "not served".
 */
export async function serveMetrics(registry: Registry, opts: { host: string; port: number; logger: Logger }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/healthz')) {
      res.writeHead(404).end();
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        opts.logger.error({ err }, 'could not render metrics');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.unref();
  return server;
}
