import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Db } from './pool.js';
import { sqlConstants } from './sql-constants.js';

/**
 * Repeatable SQL: the functions and triggers that hold rules (the claim, the submit, the slot
 * triggers…) live as one `.sql` file each in packages/db/sql, written with CREATE OR REPLACE, and are
 * applied after the versioned migrations whenever their checksum changes — Flyway's repeatable
 * migrations. So a change to a rule is a diff of one file, not a copy of it in a new migration.
 * README "Functions and triggers (packages/db/sql)" says how to write one.
 */
export const sqlFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'sql');

export interface SqlFile {
  /** The file name, e.g. `wa_claim.sql`; also its key in `sql_files`. */
  name: string;
  /** The text as applied: placeholders replaced by their values. */
  text: string;
  /** sha256 of `text`. */
  checksum: string;
  /** Files that must be applied before this one (`-- requires: a.sql b.sql` lines in its header). */
  requires: string[];
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The file's text with every `${NAME}` replaced; an unknown name is an error, never left in the SQL. */
export function renderSql(name: string, source: string, constants: Record<string, number | string> = sqlConstants): string {
  return source.replace(PLACEHOLDER, (_match, key: string) => {
    if (!Object.hasOwn(constants, key)) throw new Error(`${name}: unknown placeholder \${${key}} (defined ones: ${Object.keys(constants).join(', ')})`);
    return String(constants[key]);
  });
}

/** `-- requires: a.sql, b.sql` lines of the leading comment block. */
function requiresOf(source: string): string[] {
  const out: string[] = [];
  for (const line of source.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('--')) break;
    const m = /^--\s*requires:\s*(.+)$/.exec(trimmed);
    if (m) out.push(...m[1]!.split(/[\s,]+/).filter(Boolean));
  }
  return out;
}

/**
 * Every `*.sql` file of the folder, rendered, in the order they are applied: a file after the files
 * it requires, otherwise by name. A missing or circular requirement is an error.
 */
export async function readSqlFiles(folder = sqlFolder, constants: Record<string, number | string> = sqlConstants): Promise<SqlFile[]> {
  const names = (await fs.readdir(folder)).filter((f) => f.endsWith('.sql')).sort();
  const files = new Map<string, SqlFile>();
  for (const name of names) {
    const source = await fs.readFile(path.join(folder, name), 'utf8');
    const text = renderSql(name, source, constants);
    files.set(name, { name, text, checksum: createHash('sha256').update(text).digest('hex'), requires: requiresOf(source) });
  }
  const ordered: SqlFile[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: SqlFile, chain: string[]) => {
    if (state.get(file.name) === 'done') return;
    if (state.get(file.name) === 'visiting') throw new Error(`circular requires: ${[...chain, file.name].join(' -> ')}`);
    state.set(file.name, 'visiting');
    for (const dep of file.requires) {
      const required = files.get(dep);
      if (!required) throw new Error(`${file.name} requires ${dep}, which is not in ${folder}`);
      visit(required, [...chain, file.name]);
    }
    state.set(file.name, 'done');
    ordered.push(file);
  };
  for (const file of files.values()) visit(file, []);
  return ordered;
}

/** A fingerprint of the rendered SQL files, for the test template's name. */
export async function sqlFilesFingerprint(folder = sqlFolder): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await readSqlFiles(folder)) hash.update(`${file.name}\0${file.checksum}\0`);
  return hash.digest('hex');
}

export interface ApplySqlFilesOptions {
  /** Re-apply every file, changed or not: a versioned migration just ran and may have replaced or dropped one. */
  all?: boolean;
  folder?: string;
  constants?: Record<string, number | string>;
}

/**
 * Applies the SQL files whose checksum differs from the one recorded in `sql_files` (or every file
 * with `all`), in order, in one transaction: a failing file leaves the database as it was. Concurrent
 * callers (replicas starting together) take turns on an advisory lock, and the second finds nothing
 * left to do. Returns the names of the files applied.
 */
export async function applySqlFiles(db: Db, opts: ApplySqlFilesOptions = {}): Promise<string[]> {
  const files = await readSqlFiles(opts.folder, opts.constants);
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('fairlabel.sql_files'))`.execute(trx);
    const rows = await sql<{ name: string; checksum: string }>`SELECT name, checksum FROM sql_files`.execute(trx);
    const recorded = new Map(rows.rows.map((r) => [r.name, r.checksum]));
    const applied: string[] = [];
    for (const file of files) {
      if (!opts.all && recorded.get(file.name) === file.checksum) continue;
      try {
        await sql.raw(file.text).execute(trx);
      } catch (err) {
        const e = err as Error;
        e.message = `${file.name}: ${e.message}`;
        throw e;
      }
      await sql`
        INSERT INTO sql_files (name, checksum) VALUES (${file.name}, ${file.checksum})
        ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
      `.execute(trx);
      applied.push(file.name);
    }
    // A file deleted from the folder: its object stays until a migration drops it, its record goes.
    const present = files.map((f) => f.name);
    const gone = [...recorded.keys()].filter((name) => !present.includes(name));
    if (gone.length) await sql`DELETE FROM sql_files WHERE name = ANY (${gone}::text[])`.execute(trx);
    return applied;
  });
}
