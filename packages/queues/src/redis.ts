import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@fairlabel/observability';

/**
 * A Redis connection for BullMQ and the app. BullMQ workers block on Redis, so commands must wait
 * for a reconnect instead of failing after N retries (`maxRetriesPerRequest: null`).
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...opts });
}

/**
 * BullMQ loses jobs when Redis evicts keys under memory pressure; `noeviction` makes Redis refuse
 * writes instead, which BullMQ surfaces as errors. Warn (do not refuse to start: managed Redis
 * services sometimes forbid CONFIG GET) when it is not set.
 */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1] ?? null;
    if (policy !== 'noeviction') {
      logger.warn({ policy }, 'Redis maxmemory-policy is not noeviction: queued jobs can be evicted under memory pressure. Set `maxmemory-policy noeviction`.');
    }
    return policy;
  } catch (err) {
    logger.warn({ err }, 'could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is noeviction');
    return null;
  }
}

/**
 * Deletes every key under `prefix` (SCAN, so Redis is never blocked): a test's or a benchmark's run
 * leaves nothing behind in a shared Redis, and touches nobody else's keys.
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
