import { inject } from 'vitest';
import { loadConfig, type Config } from '@fairlabel/config';
import { cloneTemplate, type TestDatabase } from '@fairlabel/db/testing';
import { createLogger } from '@fairlabel/observability';
import { deleteKeysWithPrefix, newTestPrefix } from '@fairlabel/queues/testing';
import { createDeps, type Clock, type Deps } from '@fairlabel/runtime';

/** The encryption key of every test stack: not a secret, only for tests. */
export const TEST_SECRETS_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

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

/** What a service's code gets in production (`Deps`), on a test database and Redis prefix, with a TestClock. */
export interface TestEnv extends Deps {
  databaseName: string;
  clock: TestClock;
}

/**
 * The dependency bundle of a stack on `database`, with a Redis key prefix of its own. `close()`
 * deletes the prefix's keys and closes the connections; the database belongs to the caller.
 */
export function stackOn(database: TestDatabase, overrides: Partial<Config> = {}): TestEnv {
  const config: Config = {
    ...loadConfig(),
    DATABASE_URL: database.url,
    REDIS_PREFIX: newTestPrefix(),
    PG_POOL_MAX: 10,
    // The tests' webhook receivers listen on loopback, which production refuses (SSRF); a test of the
    // refusal itself passes its own value.
    WEBHOOK_ALLOW_PRIVATE_CIDRS: '127.0.0.0/8,::1/128',
    // A fixed key for test stacks, so webhook secrets are sealed in tests as in production.
    SECRETS_ENCRYPTION_KEY: TEST_SECRETS_ENCRYPTION_KEY,
    ...overrides,
  };
  const clock = new TestClock();
  const deps = createDeps(config, 'test', { logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), clock });
  return {
    ...deps,
    databaseName: database.name,
    clock,
    async close() {
      await deleteKeysWithPrefix(deps.redis, config.REDIS_PREFIX).catch(() => {});
      await deps.close();
    },
  };
}

/**
 * A whole second stack, on a database of its own, for the rare test that needs other settings than
 * its file's (a tiny rate limit, say). `close()` also drops the database. Files get their stack from
 * the fixture (`integrationTest`), not from here.
 */
export async function createTestEnv(overrides: Partial<Config> = {}): Promise<TestEnv> {
  const database = await cloneTemplate(loadConfig().DATABASE_URL, inject('templateDatabase'));
  const env = stackOn(database, overrides);
  return {
    ...env,
    async close() {
      await env.close();
      await database.drop();
    },
  };
}
