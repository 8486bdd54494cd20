import { pino, type Logger, type LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

export type { Logger } from 'pino';

/**
 * Paths pino must never print. API keys travel in the Authorization header; webhook secrets and
 * freshly issued keys appear in a few response bodies, which we never log, but redact anyway in case
 * a future log line includes them.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'authorization',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  '*.secret',
  'secret',
  'password',
  '*.password',
];

/**
 * How log lines look. `json`: one JSON object a line (for log shippers, files, pipes). `pretty`: one
 * human-readable line each (time, level, process, message, then the fields). `auto` (the default):
 * pretty when stdout is a terminal, JSON otherwise, so `pnpm start` in a terminal is readable and the
 * same command under Docker, systemd or a pipe writes JSON. No NODE_ENV involved.
 */
export type LogFormat = 'auto' | 'json' | 'pretty';

export function resolveLogFormat(format: LogFormat = 'auto', stream: { isTTY?: boolean } = process.stdout): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return stream.isTTY ? 'pretty' : 'json';
}

/** Width of the process column in pretty lines, so messages of the six processes line up. */
const SERVICE_COLUMN = 17;

/**
 * A pino-pretty stream, run in this thread (a terminal needs no worker thread), synchronous so the last
 * lines before an exit are not lost.
 */
export function prettyStream(opts: { colorize?: boolean; destination?: number | NodeJS.WritableStream } = {}): pino.DestinationStream {
  return pinoPretty({
    colorize: opts.colorize ?? Boolean(process.stdout.isTTY),
    sync: true,
    destination: opts.destination ?? 1,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    singleLine: true,
    messageFormat: (log, messageKey, _level, { colors }) =>
      `${colors.cyan(String(log.service ?? '').padEnd(SERVICE_COLUMN))} ${String(log[messageKey] ?? '')}`,
  });
}

export function createLogger(
  opts: { level?: string; name?: string; format?: LogFormat; destination?: pino.DestinationStream } = {},
): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: opts.name ?? 'fairlabel' },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination) return pino(options, opts.destination);
  return resolveLogFormat(opts.format) === 'pretty' ? pino(options, prettyStream()) : pino(options);
}

/** One registry per process; default Node metrics plus the app's own. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'fairlabel_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'fairlabel_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'fairlabel_queue_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

export { installProcessGuards, announceReady, serveMetrics } from './process.js';
