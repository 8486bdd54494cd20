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

/** Where a claim came from: a worker's own (`POST /v1/assignments:claim`) or a vendor's batch for its workers. */
export const claimVias = ['worker', 'vendor'] as const;
/** What one claim attempt ended in: a lease, no eligible task, a refusal (suspended, daily limit), an error. */
export const claimOutcomes = ['claimed', 'none', 'refused', 'error'] as const;
/** QA's decisions on assignments (`assignment.decided`): what was decided and the kind of work. */
export const qaDecisionKinds = ['annotation', 'gold', 'verify'] as const;
export const qaDecisionOutcomes = ['accepted', 'rejected'] as const;
/**
 * Who made a QA decision (the `source` label of fairlabel_qa_decisions_total): the consumer deciding
 * submissions (consensus, gold, verification of a prediction, a suspended worker's rejected work), a
 * prediction deciding a task with no human (automation), a reviewer, an appeal's decider.
 */
export const qaDecisionSources = ['consumer', 'automation', 'review', 'appeal'] as const;
/** The kinds of ledger transaction (ledger_transactions.kind), the `kind` label of the ledger counters. */
export const ledgerTransactionKinds = ['earning', 'rejected_pay', 'earning_correction', 'review_earning', 'client_charge', 'adjustment', 'reversal', 'floor_topup', 'payout'] as const;

/**
 * One registry per process: default Node metrics plus the app's own. Every metric an operator alerts
 * on is defined here, so the process that does the work only increments it (`deps.metrics.x.inc()`),
 * and the names, documented in the README's "Metrics" table, are used by infra/grafana and
 * infra/prometheus/alerts.yml (a test checks that every name they use is defined).
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // The stack gauges below are read from Redis and Postgres when the registry is scraped: each one's
  // collect() waits for the same read (prom-client collects all metrics concurrently).
  let readStack: (() => Promise<void>) | null = null;
  let reading: Promise<void> | null = null;
  const collect = async () => {
    if (!readStack) return;
    reading ??= readStack().finally(() => {
      reading = null;
    });
    await reading;
  };
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: 'fairlabel_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'fairlabel_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    // Queue and outbox gauges are stack-wide facts (Redis, Postgres), read when the gateway is scraped
    // (registered by readStackGaugesWith): with several gateway replicas every one reports the same
    // values, so aggregate them with max().
    queueDepth: new Gauge({
      name: 'fairlabel_queue_jobs',
      help: 'BullMQ jobs by queue and state (waiting includes paused and prioritized jobs), read at scrape time by the gateway',
      labelNames: ['queue', 'state'] as const,
      registers: [],
      collect,
    }),
    queueOldestWaitingAge: new Gauge({
      name: 'fairlabel_queue_oldest_waiting_age_seconds',
      help: 'How long the oldest waiting job of each queue has been ready to run (0 when none waits), read at scrape time by the gateway',
      labelNames: ['queue'] as const,
      registers: [],
      collect,
    }),
    queuePaused: new Gauge({
      name: 'fairlabel_queue_paused',
      help: '1 while a queue is paused (its consumers take no jobs), read at scrape time by the gateway',
      labelNames: ['queue'] as const,
      registers: [],
      collect,
    }),
    outboxUnsent: new Gauge({
      name: 'fairlabel_outbox_unsent_rows',
      help: 'Committed outbox rows the relay has not handed to Redis yet, read at scrape time by the gateway',
      registers: [],
      collect,
    }),
    outboxLag: new Gauge({
      name: 'fairlabel_outbox_lag_seconds',
      help: 'Age of the oldest outbox row not yet handed to Redis (0 when none): how far events trail the state changes',
      registers: [],
      collect,
    }),
    stackGaugeFailures: new Counter({
      name: 'fairlabel_stack_gauge_failures_total',
      help: 'Scrapes whose queue (redis) or outbox (postgres) gauges could not be read; those gauges are absent from that scrape',
      labelNames: ['source'] as const,
      registers,
    }),
    claimDuration: new Histogram({
      name: 'fairlabel_claim_duration_seconds',
      help: 'Time of one claim attempt (eligibility, fair share, the claim statement, the pay quote), without long-poll waiting',
      labelNames: ['via', 'outcome'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    leaseExpiries: new Counter({
      name: 'fairlabel_lease_expiries_total',
      help: 'Leases the lease-expiry scheduler expired (the worker neither submitted nor heartbeat in time)',
      registers,
    }),
    qaDecisions: new Counter({
      name: 'fairlabel_qa_decisions_total',
      help: 'QA decisions on assignments (assignment.decided), by kind of work, outcome and source (consumer, automation, review, appeal); incremented by qa-sampling',
      labelNames: ['kind', 'outcome', 'source'] as const,
      registers,
    }),
    qaTasksDecided: new Counter({
      name: 'fairlabel_qa_tasks_decided_total',
      help: 'Tasks QA decided (task.decided); automated = a model prediction accepted with at most one human check; incremented by qa-sampling',
      labelNames: ['automated'] as const,
      registers,
    }),
    ledgerTransactions: new Counter({
      name: 'fairlabel_ledger_transactions_total',
      help: 'Ledger transactions posted (committed), by kind (earning, rejected_pay, earning_correction, review_earning, client_charge, adjustment, reversal, floor_topup, payout); incremented by settlement',
      labelNames: ['kind'] as const,
      registers,
    }),
    ledgerPostings: new Counter({
      name: 'fairlabel_ledger_postings_total',
      help: 'Ledger postings (entries of the transactions above), by kind of transaction; incremented by settlement',
      labelNames: ['kind'] as const,
      registers,
    }),
  };
  /**
   * Installs what fills the stack gauges at scrape time and exposes them (the gateway does). Other
   * processes do not have them at all, rather than reporting an outbox lag of 0 they never measured.
   */
  const readStackGaugesWith = (read: () => Promise<void>) => {
    if (!readStack) for (const g of [metrics.queueDepth, metrics.queueOldestWaitingAge, metrics.queuePaused, metrics.outboxUnsent, metrics.outboxLag]) registry.registerMetric(g);
    readStack = read;
  };
  // Counters exist at 0 from the start, so rate() and increase() see their first increment.
  metrics.leaseExpiries.inc(0);
  for (const kind of qaDecisionKinds) for (const outcome of qaDecisionOutcomes) for (const source of qaDecisionSources) metrics.qaDecisions.inc({ kind, outcome, source }, 0);
  for (const automated of ['true', 'false']) metrics.qaTasksDecided.inc({ automated }, 0);
  for (const kind of ledgerTransactionKinds) {
    metrics.ledgerTransactions.inc({ kind }, 0);
    metrics.ledgerPostings.inc({ kind }, 0);
  }
  return { ...metrics, readStackGaugesWith };
}
export type Metrics = ReturnType<typeof createMetrics>;

export { installProcessGuards, announceReady, serveMetrics } from './process.js';
