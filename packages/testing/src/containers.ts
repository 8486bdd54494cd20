import { existsSync } from 'node:fs';

/**
 * Optional: with FAIRLABEL_TESTCONTAINERS=1 and a Docker engine, start throwaway Postgres and Redis
 * containers instead of using DATABASE_URL/REDIS_URL. Off by default: CI and developer machines here
 * have the servers running and no Docker engine.
 */
export async function maybeStartContainers(): Promise<{ databaseUrl: string; redisUrl: string; stop: () => Promise<void> } | null> {
  if (process.env.FAIRLABEL_TESTCONTAINERS !== '1') return null;
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
  return {
    databaseUrl: pgC.getConnectionUri(),
    redisUrl: redisC.getConnectionUrl(),
    stop: async () => {
      await Promise.all([pgC.stop(), redisC.stop()]);
    },
  };
}
