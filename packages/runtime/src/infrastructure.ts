import pg from 'pg';
import { Redis } from 'ioredis';
import type { Config } from '@fairlabel/config';

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * Checks Postgres and Redis once, quickly, and says which one is missing, where, and how to start
 * it; callers exit non-zero instead of retrying silently. Returns the problems (empty when both answer).
 */
export async function checkInfrastructure(config: Config, timeoutMs = 3000): Promise<string[]> {
  const problems: string[] = [];
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '3D000') {
      // The server answers but the database is new: migrate creates it, so this is not a problem.
    } else {
      problems.push(
        `PostgreSQL is not reachable at ${redact(config.DATABASE_URL)} (${(err as Error).message}). ` +
          `Start it (with Docker: \`docker compose up -d postgres\`; on Debian: \`pg_ctlcluster 15 main start\`) or set DATABASE_URL.`,
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    problems.push(
      `Redis is not reachable at ${redact(config.REDIS_URL)} (${(err as Error).message}). ` +
        `Start it (with Docker: \`docker compose up -d redis\`; otherwise \`redis-server --daemonize yes\`) or set REDIS_URL.`,
    );
  } finally {
    redis.disconnect();
  }
  return problems;
}
