import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as test } from '../src/testing/index.js';
import { createMigrator, migrateDownOne, migrateToLatest, type Db } from '../src/index.js';
import { pgDumpFor, schemaDump } from './schema-dump.js';

async function migrations(db: Db) {
  return createMigrator(db).getMigrations();
}

/** The object kinds of a dump, e.g. TABLE, INDEX, FK CONSTRAINT, FUNCTION, TRIGGER. */
const kinds = (dump: Record<string, string>) => new Set(Object.keys(dump).map((k) => k.replace(/ public\..*$/, '')));
/**
 * What is left of a schema once every migration is reverted: kysely's own bookkeeping, and the
 * extensions migrations install with CREATE EXTENSION IF NOT EXISTS (btree_gist, for settlement):
 * an extension belongs to the database, so a down leaves it for whoever else uses it, and an up
 * finds it there. Anything else left is a down that does not undo its up.
 */
const leftovers = (dump: Record<string, string>) => Object.keys(dump).filter((k) => !/public\.kysely_migration|^(COMMENT -\.)?EXTENSION /.test(k));

describe('migrations', () => {
  test('the template is fully migrated', async ({ db }) => {
    const all = await migrations(db);
    expect(all.length).toBeGreaterThan(1);
    expect(all.filter((m) => !m.executedAt).map((m) => m.name)).toEqual([]);
    const tables = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(db);
    expect(tables.rows.map((r) => r.tablename)).toEqual(
      expect.arrayContaining(['organizations', 'api_keys', 'outbox', 'idempotency_keys', 'audit_log', 'jobs', 'tasks', 'assignments', 'workers']),
    );
  });

  test('every migration goes down and up again to the identical schema, and the whole set back to the template', async ({ db, database }) => {
    const pgDump = await pgDumpFor(db);
    const dump = () => schemaDump(pgDump, database.url);
    const names = (await migrations(db)).map((m) => m.name);
    const migrator = createMigrator(db);

    // The template: every migration, then the SQL files of packages/db/sql (which supersede the bodies
    // of the functions and triggers earlier migrations created).
    const template = await dump();
    expect([...kinds(template)]).toEqual(expect.arrayContaining(['TABLE', 'INDEX', 'CONSTRAINT', 'FK CONSTRAINT', 'FUNCTION', 'TRIGGER', 'TYPE']));

    // Down from there, one migration at a time, to an empty schema.
    for (let i = names.length; i > 0; i--) expect(await migrateDownOne(db)).toEqual([`Down ${names[i - 1]}`]);
    const empty = await dump();
    expect(leftovers(empty)).toEqual([]);

    // Up one migration at a time: afterUp[i] is the schema with names[0..i-1] applied.
    const afterUp: Record<string, string>[] = [empty];
    for (let i = 1; i <= names.length; i++) {
      const { error, results } = await migrator.migrateUp();
      expect(error).toBeUndefined();
      expect(results?.map((r) => `${r.status} ${r.migrationName}`)).toEqual([`Success ${names[i - 1]}`]);
      afterUp[i] = await dump();
    }
    // Down again: each down must give back exactly the schema its up started from, so every down/up
    // pair is a round trip to the identical schema (tables, columns, indexes, constraints, functions,
    // triggers, types).
    for (let i = names.length; i > 0; i--) {
      expect(await migrateDownOne(db)).toEqual([`Down ${names[i - 1]}`]);
      expect(await dump(), `schema after ${names[i - 1]} went down (before it went up)`).toEqual(afterUp[i - 1]);
    }
    // And as a deployment runs it — every migration, then every SQL file — back to the template.
    const ran = await migrateToLatest(db);
    expect(ran.filter((r) => r.startsWith('Up '))).toHaveLength(names.length);
    expect(await dump()).toEqual(template);
    // Two pg_dumps per migration (over 60 of them): on a loaded 2-core machine this passed in 82 s and
    // timed out at the default 30 s, so it gets a limit of its own (a limit, not a timing assertion).
  }, 300_000);
});
