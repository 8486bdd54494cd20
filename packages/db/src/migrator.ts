import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './pool.js';
import { applySqlFiles, sqlFilesFingerprint } from './sql-files.js';

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Loads every `*.ts` file of migrations/ (named by a sortable timestamp). The import happens in our
 * own code rather than kysely's FileMigrationProvider so that the TypeScript loader in use (tsx in
 * processes, vite in tests) resolves the .ts files.
 */
const folderProvider: MigrationProvider = {
  async getMigrations() {
    const migrations: Record<string, Migration> = {};
    for (const file of (await fs.readdir(migrationsFolder)).sort()) {
      if (!/^\d{8}T\d{4}_[a-z0-9_-]+\.ts$/.test(file)) continue;
      const mod = (await import(pathToFileURL(path.join(migrationsFolder, file)).href)) as Migration;
      migrations[file.replace(/\.ts$/, '')] = { up: mod.up, ...(mod.down ? { down: mod.down } : {}) };
    }
    return migrations;
  },
};

export function createMigrator(db: Db): Migrator {
  // Services add migrations in parallel branches; an older-named one landing after a newer one is fine.
  return new Migrator({ db, provider: folderProvider, allowUnorderedMigrations: true });
}

function check(result: MigrationResultSet): string[] {
  if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => `${r.direction} ${r.migrationName}`);
}

/**
 * Applies every pending migration, then the SQL files of packages/db/sql that changed (all of them
 * when a migration ran, since it may have replaced or dropped one); returns what ran, e.g.
 * `Up 20261129T1230_sql_files` and `sql wa_claim.sql`. Concurrent callers are serialised by kysely's
 * lock table and the SQL files' advisory lock.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const ran = check(await createMigrator(db).migrateToLatest());
  const applied = await applySqlFiles(db, { all: ran.length > 0 });
  return [...ran, ...applied.map((name) => `sql ${name}`)];
}

/** Reverts the last applied migration. */
export async function migrateDownOne(db: Db): Promise<string[]> {
  return check(await createMigrator(db).migrateDown());
}

/**
 * A stable fingerprint of the migration files and the rendered SQL files (with their constants), so
 * the test template is rebuilt only when one of them changes.
 */
export async function migrationsFingerprint(): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for (const file of (await fs.readdir(migrationsFolder)).sort()) {
    hash.update(file);
    hash.update(await fs.readFile(path.join(migrationsFolder, file)));
  }
  hash.update(await sqlFilesFingerprint());
  return hash.digest('hex').slice(0, 12);
}
