import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { loadConfig } from '@fairlabel/config';
import { sql, type Db } from '@fairlabel/db';
import { dbTest } from '@fairlabel/db/testing';
import { createLogger, type Logger } from '@fairlabel/observability';
import { createRedis, deleteKeysWithPrefix } from '../redis.js';

/** A Redis key prefix no other test or stack uses (every key and channel of a stack starts with it). */
export function newTestPrefix(): string {
  return `fltest:${randomBytes(5).toString('hex')}`;
}

// Tests import it from here, as before; benchmarks and scripts from @fairlabel/queues (no vitest there).
export { deleteKeysWithPrefix } from '../redis.js';

/** The newest outbox id now: what a test writes after this has a larger id. */
export async function outboxMark(db: Db): Promise<number> {
  const row = await sql<{ id: number }>`SELECT coalesce(max(id), 0)::bigint AS id FROM outbox`.execute(db);
  return row.rows[0]!.id;
}

/**
 * Deletes the outbox rows written after `mark`. Relays publish every unsent row of their database and
 * the reconciler re-publishes every sent row whose job it cannot find, so a row one test leaves
 * behind would show up in the next test's queues; fixtures call this when a test ends.
 */
export async function discardOutbox(db: Db, mark: number): Promise<void> {
  await sql`DELETE FROM outbox WHERE id > ${mark}`.execute(db);
}

/**
 * The fixture of queue-level tests: the file's database (`dbTest`), a Redis connection for the file,
 * a key prefix of each test's own (so every test has empty queues) and a logger. The outbox rows a
 * test wrote are deleted when it ends, so every test starts with an outbox of nobody else's rows.
 *
 *   import { queuesTest as test } from '@fairlabel/queues/testing';
 *   test('…', async ({ db, database, redis, prefix, logger }) => { … });
 */
export const queuesTest = dbTest
  .extend('redis', { scope: 'file' }, async ({}, { onCleanup }): Promise<Redis> => {
    const redis = createRedis(loadConfig().REDIS_URL);
    onCleanup(() => redis.disconnect());
    return redis;
  })
  .extend('logger', { scope: 'file' }, async ({}): Promise<Logger> => createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }))
  .extend('prefix', async ({ redis }, { onCleanup }) => {
    const prefix = newTestPrefix();
    onCleanup(() => deleteKeysWithPrefix(redis, prefix));
    return prefix;
  })
  .extend('outboxCleared', { auto: true }, async ({ db }, { onCleanup }) => {
    const mark = await outboxMark(db);
    onCleanup(() => discardOutbox(db, mark));
    return mark;
  });
