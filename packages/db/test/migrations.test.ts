import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as it } from '../src/testing/index.js';
import { createMigrator, migrateDownOne, migrateToLatest, type Db } from '../src/index.js';

async function tables(db: Db): Promise<string[]> {
  const rows = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%' ORDER BY 1`.execute(db);
  return rows.rows.map((r) => r.tablename);
}

describe('migrations', () => {
  it('the template is fully migrated', async ({ db }) => {
    const all = await createMigrator(db).getMigrations();
    expect(all.length).toBeGreaterThan(1);
    expect(all.every((m) => m.executedAt)).toBe(true);
    expect(await tables(db)).toEqual(expect.arrayContaining(['organizations', 'api_keys', 'outbox', 'idempotency_keys', 'audit_log', 'jobs', 'tasks', 'assignments', 'workers']));
  });

  it('every migration reverts one step at a time, and the schema comes back the same', async ({ db }) => {
    const before = await tables(db);
    const count = (await createMigrator(db).getMigrations()).length;
    for (let i = 0; i < count; i++) expect((await migrateDownOne(db)).length).toBe(1);
    expect(await tables(db)).toEqual([]);
    const ran = await migrateToLatest(db);
    expect(ran.filter((r) => r.startsWith('Up ')).length).toBe(count);
    expect(await tables(db)).toEqual(before);
  });
});
