// The outbox relay process: moves committed outbox rows to BullMQ, and runs the reconciler that puts
// back into Redis whatever Postgres says must be queued and Redis lost. Run as many as you like.
import { loadConfigOrExit } from '@fairlabel/config';
import { announceReady, createLogger, createMetrics, installProcessGuards, serveMetrics } from '@fairlabel/observability';
import { createDb, createPool } from '@fairlabel/db';
import { createRedis, checkEvictionPolicy } from './redis.js';
import { OutboxRelay } from './relay.js';
import { ConsumedSweeper, defaultReconcileSources, Reconciler } from './reconcile/index.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'outbox-relay' });
const metrics = createMetrics('outbox-relay');
installProcessGuards({ logger, registry: metrics.registry });
const pool = createPool(config.DATABASE_URL, 4);
const db = createDb(pool);
const redis = createRedis(config.REDIS_URL);
redis.on('error', (err) => logger.warn({ err: err.message }, 'Redis connection error; reconnecting'));
await checkEvictionPolicy(redis, logger);
const reconciler = new Reconciler({
  db,
  redis,
  prefix: config.REDIS_PREFIX,
  logger,
  sources: defaultReconcileSources({ redis, prefix: config.REDIS_PREFIX }),
  intervalMs: config.RECONCILE_INTERVAL_MS,
  // The marker is checked on the relay's own poll tick below.
  markerCheckMs: 24 * 3600_000,
  registry: metrics.registry,
});
// Rows are marked consumed within a second of their job completing (Redis keeps few completed batches).
const sweeper = new ConsumedSweeper({ db, redis, prefix: config.REDIS_PREFIX });
const sweep = () => sweeper.sweep().catch((err: unknown) => logger.warn({ err }, 'could not mark consumed outbox rows; retrying at the next tick'));
const relay = new OutboxRelay({
  db,
  databaseUrl: config.DATABASE_URL,
  redis,
  prefix: config.REDIS_PREFIX,
  logger,
  pollMs: config.OUTBOX_POLL_MS,
  onTick: () => {
    void reconciler.checkMarker();
    void sweep();
  },
});
await relay.start();
reconciler.start();
const metricsServer = config.METRICS_PORT > 0 ? await serveMetrics(metrics.registry, { host: config.HOST, port: config.METRICS_PORT, logger }) : null;
logger.info('outbox relay started');
announceReady();

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: finishing the batch in flight');
  const timer = setTimeout(() => {
    logger.error('shutdown grace period over; exiting with work unfinished');
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS);
  timer.unref();
  // Finishes the batch in flight (publish + mark in one transaction), then exits.
  (async () => {
    await reconciler.stop();
    await relay.stop();
    await sweeper.close();
    await db.destroy();
    redis.disconnect();
    metricsServer?.close();
  })().then(
    () => {
      logger.info('outbox relay stopped');
      process.exit(0);
    },
    (err: unknown) => {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
