import type { Db } from '@fairlabel/db';
import type { Deps } from '@fairlabel/runtime';
import type { RawBuilder } from 'kysely';

export type Pool = Deps['pool'];

/** Statement names by text: one name per distinct text, as Postgres requires of a prepared statement. */
const names = new Map<string, string>();

/**
 * Runs a hot-path statement as a named (prepared) statement: each pooled connection parses and plans
 * it once, where kysely's unnamed statements are parsed and planned on every call. Compiled by kysely
 * all the same, so parameters are passed exactly as `query.execute(db)` would pass them.
 */
export async function runPrepared<R>(pool: Pool, db: Db, query: RawBuilder<R>): Promise<R[]> {
  const compiled = query.compile(db);
  let name = names.get(compiled.sql);
  if (!name) {
    name = `wa_${names.size + 1}`;
    names.set(compiled.sql, name);
  }
  const result = await pool.query({ name, text: compiled.sql, values: [...compiled.parameters] });
  return result.rows as R[];
}
