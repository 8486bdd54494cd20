import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '@fairlabel/config';
import { withDatabase } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { createDeps, type Clock, type Deps } from '@fairlabel/runtime';

/** A clock tests can move, for lease expiry and the like, instead of sleeping. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestEnv extends Deps {
  databaseName: string;
  clock: TestClock;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * A fresh database cloned from the migrated template, and a Redis key prefix of its own, for one test
 * file. Uses DATABASE_URL / REDIS_URL or the local servers.
 */
export async function createTestEnv(overrides: Partial<Config> = {}): Promise<TestEnv> {
  const base = loadConfig();
  const template = inject('templateDatabase');
  const databaseName = `fairlabel_test_${stamp()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
  await admin.connect();
  try {
    // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template; another
    // file cloning at the same moment is such a session for an instant, so retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${databaseName} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const config: Config = {
    ...base,
    DATABASE_URL: withDatabase(base.DATABASE_URL, databaseName),
    REDIS_PREFIX: `fltest:${randomBytes(5).toString('hex')}`,
    PG_POOL_MAX: 10,
    ...overrides,
  };
  const clock = new TestClock();
  const deps = createDeps(config, 'test', { logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), clock });
  const env: TestEnv = {
    ...deps,
    databaseName,
    clock,
    async close() {
      await deleteRedisPrefix(deps, config.REDIS_PREFIX).catch(() => {});
      await deps.close();
      const cleanup = new pg.Client({ connectionString: withDatabase(base.DATABASE_URL, 'postgres') });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => {});
      await cleanup.end();
    },
  };
  return env;
}

async function deleteRedisPrefix(deps: Deps, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await deps.redis.del(...keys);
  } while (cursor !== '0');
}
