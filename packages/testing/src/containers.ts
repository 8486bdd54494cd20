import { existsSync } from 'node:fs';

/**
 * Vitest global setup, listed before the template's: with FAIRLABEL_TESTCONTAINERS=1 and a Docker
 * engine, start throwaway Postgres and Redis containers instead of using DATABASE_URL/REDIS_URL. Off
 * by default: CI and developer machines here have the servers running and no Docker engine.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.FAIRLABEL_TESTCONTAINERS !== '1') return undefined;
  const dockerHost = process.env.DOCKER_HOST;
  if (!dockerHost && !existsSync('/var/run/docker.sock')) {
    throw new Error('FAIRLABEL_TESTCONTAINERS=1 but no Docker engine is reachable (no DOCKER_HOST, no /var/run/docker.sock)');
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const { RedisContainer } = await import('@testcontainers/redis');
  const [pgC, redisC] = await Promise.all([
    new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').withPassword('postgres').start(),
    new RedisContainer('redis:7-alpine').withCommand(['redis-server', '--maxmemory-policy', 'noeviction']).start(),
  ]);
  // The template's global setup and the forked test workers read these from this process's environment.
  process.env.DATABASE_URL = pgC.getConnectionUri();
  process.env.REDIS_URL = redisC.getConnectionUrl();
  return async () => {
    await Promise.all([pgC.stop(), redisC.stop()]);
  };
}
