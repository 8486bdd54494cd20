import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from '@fairlabel/config';
import { createDb, createPool, type Db } from '@fairlabel/db';
import { createLogger, createMetrics, type Logger, type Metrics } from '@fairlabel/observability';
import { createRedis } from '@fairlabel/queues';

export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/**
 * What domain code needs, passed explicitly (`{ db, redis, clock, ... }`), no container. Tests build
 * the same object against their own database and Redis prefix.
 */
export interface Deps {
  config: Config;
  pool: pg.Pool;
  db: Db;
  /** Commands and BullMQ producers. */
  redis: Redis;
  /** Every Redis key this stack writes starts with this prefix (BullMQ prefix, rate-limit keys, channels). */
  prefix: string;
  logger: Logger;
  /** This process's Prometheus registry and the metrics its work increments (`deps.metrics.leaseExpiries.inc()`). */
  metrics: Metrics;
  clock: Clock;
  close(): Promise<void>;
}

export function createDeps(config: Config, service: string, overrides: Partial<Pick<Deps, 'logger' | 'clock' | 'metrics'>> = {}): Deps {
  const pool = createPool(config.DATABASE_URL, config.PG_POOL_MAX);
  const db = createDb(pool);
  const redis = createRedis(config.REDIS_URL);
  const logger = overrides.logger ?? createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: service });
  return {
    config,
    pool,
    db,
    redis,
    prefix: config.REDIS_PREFIX,
    logger,
    metrics: overrides.metrics ?? createMetrics(service),
    clock: overrides.clock ?? systemClock,
    async close() {
      await db.destroy();
      redis.disconnect();
    },
  };
}
