import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { Db } from '../src/index.js';

const run = promisify(execFile);

/**
 * The server's own major version of pg_dump (Debian keeps every installed one under
 * /usr/lib/postgresql/<major>/bin); otherwise the pg_dump on PATH, which refuses a newer server.
 */
export async function pgDumpFor(db: Db): Promise<string> {
  const { rows } = await sql<{ major: number }>`SELECT (current_setting('server_version_num')::int / 10000) AS major`.execute(db);
  const own = `/usr/lib/postgresql/${rows[0]!.major}/bin/pg_dump`;
  return existsSync(own) ? own : 'pg_dump';
}

/**
 * The whole schema of a database as `pg_dump --schema-only` writes it (tables, columns, defaults,
 * indexes, constraints, functions, triggers, types, comments), as one entry per object: keyed by the
 * "Name; Type; Schema" header pg_dump puts before each, with the object's DDL as the value. Session
 * settings and the per-run `\restrict` key are dropped; nothing else is touched, so two databases
 * with equal dumps have the same schema, and a difference names the object.
 */
export async function schemaDump(pgDump: string, url: string): Promise<Record<string, string>> {
  const { stdout } = await run(pgDump, ['--schema-only', '--no-owner', '--no-privileges', url], { maxBuffer: 64 * 1024 * 1024 });
  const objects: Record<string, string> = {};
  let key: string | null = null;
  let body: string[] = [];
  const flush = () => {
    if (key !== null) {
      if (key in objects) throw new Error(`pg_dump listed ${key} twice`);
      objects[key] = body.join('\n').trim();
    }
    body = [];
  };
  for (const line of stdout.split('\n')) {
    const header = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/.exec(line);
    if (header) {
      flush();
      key = `${header[2]} ${header[3]}.${header[1]}`;
      continue;
    }
    if (key === null || line === '--' || /^\\(un)?restrict /.test(line)) continue;
    body.push(line);
  }
  flush();
  return Object.fromEntries(Object.entries(objects).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
