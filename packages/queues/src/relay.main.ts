// The outbox relay process: moves committed outbox rows to BullMQ. Run as many as you like.
import { loadConfigOrExit } from '@fairlabel/config';
import { createLogger } from '@fairlabel/observability';
import { createDb, createPool } from '@fairlabel/db';
import { createRedis, checkEvictionPolicy } from './redis.js';
import { OutboxRelay } from './relay.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'outbox-relay' });
const pool = createPool(config.DATABASE_URL, 4);
const db = createDb(pool);
const redis = createRedis(config.REDIS_URL);
await checkEvictionPolicy(redis, logger);
const relay = new OutboxRelay({ db, databaseUrl: config.DATABASE_URL, redis, prefix: config.REDIS_PREFIX, logger, pollMs: config.OUTBOX_POLL_MS });
await relay.start();
logger.info('outbox relay started');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    // Finishes the batch in flight (publish + mark in one transaction), then exits.
    await relay.stop();
    await db.destroy();
    redis.disconnect();
    logger.info('outbox relay stopped');
    process.exit(0);
  });
}
