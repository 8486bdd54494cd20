import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';
import { createMigrator, migrateDownOne, migrateToLatest } from '../src/index.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.close();
});

async function tables(): Promise<string[]> {
  const rows = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%' ORDER BY 1`.execute(env.db);
  return rows.rows.map((r) => r.tablename);
}

describe('migrations', () => {
  it('the template is fully migrated', async () => {
    const all = await createMigrator(env.db).getMigrations();
    expect(all.length).toBeGreaterThan(1);
    expect(all.every((m) => m.executedAt)).toBe(true);
    expect(await tables()).toEqual(expect.arrayContaining(['organizations', 'api_keys', 'outbox', 'idempotency_keys', 'audit_log', 'jobs', 'tasks', 'assignments', 'workers']));
  });

  it('every migration reverts one step at a time, and the schema comes back the same', async () => {
    const before = await tables();
    const count = (await createMigrator(env.db).getMigrations()).length;
    for (let i = 0; i < count; i++) expect((await migrateDownOne(env.db)).length).toBe(1);
    expect(await tables()).toEqual([]);
    const ran = await migrateToLatest(env.db);
    expect(ran.filter((r) => r.startsWith('Up ')).length).toBe(count);
    expect(await tables()).toEqual(before);
  });
});
