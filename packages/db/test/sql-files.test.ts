import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest } from '../src/testing/index.js';
import { applySqlFiles, migrateDownOne, migrateToLatest, readSqlFiles, renderSql, sqlConstants, type Db } from '../src/index.js';

// The repeatable SQL files of packages/db/sql (sql-files.ts): applied after the migrations whenever
// their checksum changes, in order, in one transaction.

/** `files({ name: text })` writes a folder of SQL files of the test's own, removed when the test ends. */
const test = dbTest.extend('files', async ({}, { onCleanup }) => {
  const folder = await mkdtemp(path.join(tmpdir(), 'fairlabel-sql-'));
  onCleanup(() => rm(folder, { recursive: true, force: true }));
  return async (contents: Record<string, string>): Promise<string> => {
    const dir = await mkdtemp(path.join(folder, 'set-'));
    for (const [name, text] of Object.entries(contents)) await writeFile(path.join(dir, name), text);
    return dir;
  };
});

const recorded = async (db: Db) =>
  Object.fromEntries((await sql<{ name: string; checksum: string }>`SELECT name, checksum FROM sql_files ORDER BY name`.execute(db)).rows.map((r) => [r.name, r.checksum]));

const call = async (db: Db, fn: string) => (await sql<{ v: unknown }>`SELECT ${sql.raw(fn)}() AS v`.execute(db)).rows[0]!.v;

describe('SQL files', () => {
  test('the template has every file of packages/db/sql applied, with its checksum recorded', async ({ db }) => {
    const expected = Object.fromEntries((await readSqlFiles()).map((f) => [f.name, f.checksum]));
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(['wa_claim.sql', 'wa_submit.sql', 'wa_claim_candidates.sql', 'wa_tasks_inserted.sql']));
    expect(await recorded(db)).toEqual(expected);
    // Nothing is left to apply, and a second call is a no-op.
    expect(await applySqlFiles(db)).toEqual([]);
    for (const file of await readSqlFiles()) expect(file.text).not.toMatch(/\$\{/);
  });

  test('re-applies a file only when its rendered text changes, a constant included', async ({ db, files }) => {
    const dir = await files({ 'h8c_answer.sql': 'CREATE OR REPLACE FUNCTION h8c_answer() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT ${ANSWER} $f$;' });
    expect(await applySqlFiles(db, { folder: dir, constants: { ANSWER: 41 } })).toEqual(['h8c_answer.sql']);
    expect(await call(db, 'h8c_answer')).toBe(41);
    expect(await applySqlFiles(db, { folder: dir, constants: { ANSWER: 41 } })).toEqual([]);
    expect(await applySqlFiles(db, { folder: dir, constants: { ANSWER: 42 } })).toEqual(['h8c_answer.sql']);
    expect(await call(db, 'h8c_answer')).toBe(42);
    // `all` (a migration ran) re-applies unchanged files too.
    expect(await applySqlFiles(db, { folder: dir, constants: { ANSWER: 42 }, all: true })).toEqual(['h8c_answer.sql']);
    // Records of files that left the folder are dropped; the files of this folder are what is recorded.
    expect(Object.keys(await recorded(db))).toEqual(['h8c_answer.sql']);
    await applySqlFiles(db, { all: true });
  });

  test('applies a file after the files it requires, otherwise by name', async ({ db, files }) => {
    const dir = await files({
      'a_uses.sql': '-- requires: z_base.sql\nCREATE OR REPLACE FUNCTION h8c_uses() RETURNS integer LANGUAGE sql STABLE AS $f$ SELECT h8c_base() + 1 $f$;',
      'm_plain.sql': 'CREATE OR REPLACE FUNCTION h8c_plain() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 7 $f$;',
      'z_base.sql': 'CREATE OR REPLACE FUNCTION h8c_base() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 1 $f$;',
    });
    // A LANGUAGE sql body is checked when created, so the wrong order would fail.
    expect(await applySqlFiles(db, { folder: dir })).toEqual(['z_base.sql', 'a_uses.sql', 'm_plain.sql']);
    expect(await call(db, 'h8c_uses')).toBe(2);
    await applySqlFiles(db, { all: true });
  });

  test('a failing file names itself and leaves everything as it was: earlier files of the same run included', async ({ db, files }) => {
    const dir = await files({
      'a_good.sql': 'CREATE OR REPLACE FUNCTION h8c_good() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 1 $f$;',
      'b_bad.sql': 'CREATE OR REPLACE FUNCTION h8c_bad() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT * FROM no_such_table $f$;',
    });
    const before = await recorded(db);
    await expect(applySqlFiles(db, { folder: dir })).rejects.toThrow(/^b_bad\.sql: .*no_such_table/);
    const exists = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('h8c_good', 'h8c_bad')`.execute(db);
    expect(exists.rows[0]!.n).toBe(0);
    expect(await recorded(db)).toEqual(before);
  });

  test('refuses an unknown placeholder, a missing requirement and a cycle before touching the database', async ({ files }) => {
    expect(() => renderSql('x.sql', 'SELECT ${NOPE}')).toThrow(/x\.sql: unknown placeholder \$\{NOPE\}/);
    expect(renderSql('x.sql', 'LIMIT ${WA_CLAIM_BATCH}')).toBe(`LIMIT ${sqlConstants.WA_CLAIM_BATCH}`);
    await expect(readSqlFiles(await files({ 'a.sql': '-- requires: missing.sql\nSELECT 1;' }))).rejects.toThrow(/a\.sql requires missing\.sql/);
    await expect(readSqlFiles(await files({ 'a.sql': '-- requires: b.sql\nSELECT 1;', 'b.sql': '-- requires: a.sql\nSELECT 1;' }))).rejects.toThrow(/circular requires/);
  });

  test('re-applies every file after a migration ran, so a migration that recreated an old body is superseded', async ({ db }) => {
    // Reverting and re-running the migration that first created wa_submit recreates its old body from the migration.
    const down = await migrateDownOne(db);
    expect(down).toHaveLength(1);
    await migrateDownOne(db); // the one before it too, so wa_submit's migration is among those re-run
    const ran = await migrateToLatest(db);
    expect(ran.filter((r) => r.startsWith('Up ')).length).toBe(2);
    expect(ran.filter((r) => r.startsWith('sql '))).toEqual((await readSqlFiles()).map((f) => `sql ${f.name}`));
    const expected = Object.fromEntries((await readSqlFiles()).map((f) => [f.name, f.checksum]));
    expect(await recorded(db)).toEqual(expected);
  });
});
