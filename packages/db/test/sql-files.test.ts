import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';
import { applySqlFiles, migrateDownOne, migrateToLatest, readSqlFiles, renderSql, sqlConstants } from '../src/index.js';

// The repeatable SQL files of packages/db/sql (sql-files.ts): applied after the migrations whenever
// their checksum changes, in order, in one transaction.
let env: TestEnv;
let folder: string;
beforeAll(async () => {
  env = await createTestEnv();
  folder = await mkdtemp(path.join(tmpdir(), 'fairlabel-sql-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
  await env.close();
});

async function files(contents: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(folder, 'set-'));
  for (const [name, text] of Object.entries(contents)) await writeFile(path.join(dir, name), text);
  return dir;
}

const recorded = async () =>
  Object.fromEntries((await sql<{ name: string; checksum: string }>`SELECT name, checksum FROM sql_files ORDER BY name`.execute(env.db)).rows.map((r) => [r.name, r.checksum]));

const call = async (fn: string) => (await sql<{ v: unknown }>`SELECT ${sql.raw(fn)}() AS v`.execute(env.db)).rows[0]!.v;

describe('SQL files', () => {
  it('the template has every file of packages/db/sql applied, with its checksum recorded', async () => {
    const expected = Object.fromEntries((await readSqlFiles()).map((f) => [f.name, f.checksum]));
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(['wa_claim.sql', 'wa_submit.sql', 'wa_claim_candidates.sql', 'wa_tasks_inserted.sql']));
    expect(await recorded()).toEqual(expected);
    // Nothing is left to apply, and a second call is a no-op.
    expect(await applySqlFiles(env.db)).toEqual([]);
    for (const file of await readSqlFiles()) expect(file.text).not.toMatch(/\$\{/);
  });

  it('re-applies a file only when its rendered text changes, a constant included', async () => {
    const dir = await files({ 'h8c_answer.sql': 'CREATE OR REPLACE FUNCTION h8c_answer() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT ${ANSWER} $f$;' });
    expect(await applySqlFiles(env.db, { folder: dir, constants: { ANSWER: 41 } })).toEqual(['h8c_answer.sql']);
    expect(await call('h8c_answer')).toBe(41);
    expect(await applySqlFiles(env.db, { folder: dir, constants: { ANSWER: 41 } })).toEqual([]);
    expect(await applySqlFiles(env.db, { folder: dir, constants: { ANSWER: 42 } })).toEqual(['h8c_answer.sql']);
    expect(await call('h8c_answer')).toBe(42);
    // `all` (a migration ran) re-applies unchanged files too.
    expect(await applySqlFiles(env.db, { folder: dir, constants: { ANSWER: 42 }, all: true })).toEqual(['h8c_answer.sql']);
    // Records of files that left the folder are dropped; the files of this folder are what is recorded.
    expect(Object.keys(await recorded())).toEqual(['h8c_answer.sql']);
    await applySqlFiles(env.db, { all: true });
  });

  it('applies a file after the files it requires, otherwise by name', async () => {
    const dir = await files({
      'a_uses.sql': '-- requires: z_base.sql\nCREATE OR REPLACE FUNCTION h8c_uses() RETURNS integer LANGUAGE sql STABLE AS $f$ SELECT h8c_base() + 1 $f$;',
      'm_plain.sql': 'CREATE OR REPLACE FUNCTION h8c_plain() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 7 $f$;',
      'z_base.sql': 'CREATE OR REPLACE FUNCTION h8c_base() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 1 $f$;',
    });
    // A LANGUAGE sql body is checked when created, so the wrong order would fail.
    expect(await applySqlFiles(env.db, { folder: dir })).toEqual(['z_base.sql', 'a_uses.sql', 'm_plain.sql']);
    expect(await call('h8c_uses')).toBe(2);
    await applySqlFiles(env.db, { all: true });
  });

  it('a failing file names itself and leaves everything as it was: earlier files of the same run included', async () => {
    const dir = await files({
      'a_good.sql': 'CREATE OR REPLACE FUNCTION h8c_good() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT 1 $f$;',
      'b_bad.sql': 'CREATE OR REPLACE FUNCTION h8c_bad() RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT * FROM no_such_table $f$;',
    });
    const before = await recorded();
    await expect(applySqlFiles(env.db, { folder: dir })).rejects.toThrow(/^b_bad\.sql: .*no_such_table/);
    const exists = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('h8c_good', 'h8c_bad')`.execute(env.db);
    expect(exists.rows[0]!.n).toBe(0);
    expect(await recorded()).toEqual(before);
  });

  it('refuses an unknown placeholder, a missing requirement and a cycle before touching the database', async () => {
    expect(() => renderSql('x.sql', 'SELECT ${NOPE}')).toThrow(/x\.sql: unknown placeholder \$\{NOPE\}/);
    expect(renderSql('x.sql', 'LIMIT ${WA_CLAIM_BATCH}')).toBe(`LIMIT ${sqlConstants.WA_CLAIM_BATCH}`);
    await expect(readSqlFiles(await files({ 'a.sql': '-- requires: missing.sql\nSELECT 1;' }))).rejects.toThrow(/a\.sql requires missing\.sql/);
    await expect(readSqlFiles(await files({ 'a.sql': '-- requires: b.sql\nSELECT 1;', 'b.sql': '-- requires: a.sql\nSELECT 1;' }))).rejects.toThrow(/circular requires/);
  });

  it('re-applies every file after a migration ran, so a migration that recreated an old body is superseded', async () => {
    // Reverting and re-running the migration that first created wa_submit recreates its old body from the migration.
    const down = await migrateDownOne(env.db);
    expect(down).toHaveLength(1);
    await migrateDownOne(env.db); // the one before it too, so wa_submit's migration is among those re-run
    const ran = await migrateToLatest(env.db);
    expect(ran.filter((r) => r.startsWith('Up ')).length).toBe(2);
    expect(ran.filter((r) => r.startsWith('sql '))).toEqual((await readSqlFiles()).map((f) => `sql ${f.name}`));
    const expected = Object.fromEntries((await readSqlFiles()).map((f) => [f.name, f.checksum]));
    expect(await recorded()).toEqual(expected);
  });
});
