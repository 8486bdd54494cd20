import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateToLatest, migrationsFingerprint } from '../migrator.js';
import { createDb, createPool, withDatabase } from '../pool.js';

/**
 * The database half of the test harness: one migrated template database per schema version, cloned
 * for every test file (`CREATE DATABASE … TEMPLATE …` copies it in a fraction of a second, where
 * migrating a fresh database takes seconds). It lives in `@fairlabel/db` because it needs nothing but
 * the schema; `@fairlabel/testing` builds the service-level fixtures on top of it.
 */

const TEMPLATE_LOCK = 727274;

/**
 * Makes sure the migrated template of the current schema exists on the server of `databaseUrl` and
 * returns its name. It is named after `migrationsFingerprint()` (the migration files and the rendered
 * SQL files of packages/db/sql with their constants), so it is rebuilt exactly when one of them
 * changes. Concurrent runs (two terminals, several worktrees) are serialised on an advisory lock;
 * templates of other schema versions are dropped once unused for a day, because other checkouts
 * on the same server may still need theirs; test databases of crashed runs are dropped after 2 hours.
 */
export async function prepareTemplate(databaseUrl: string): Promise<string> {
  const template = `fairlabel_tpl_${await migrationsFingerprint()}`;
  const admin = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (!exists.rowCount) {
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      const db = createDb(createPool(withDatabase(databaseUrl, building), 2));
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
    await admin.query(`COMMENT ON DATABASE ${template} IS ${pg.escapeLiteral(`fairlabel test template, last used ${new Date().toISOString()}`)}`);
    const old = await admin.query(
      `SELECT d.datname FROM pg_database d LEFT JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass
        WHERE d.datname LIKE 'fairlabel_tpl_%' AND d.datname <> $1
          AND coalesce(substring(s.description FROM 'last used (.*)$')::timestamptz, '-infinity') < now() - interval '1 day'`,
      [template],
    );
    for (const row of old.rows as { datname: string }[]) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(row.datname)}`).catch(() => {});
    const stale = await admin.query(
      "SELECT datname FROM pg_database WHERE datname LIKE 'fairlabel_test_%' AND datname < 'fairlabel_test_' || to_char(now() - interval '2 hours', 'YYYYMMDDHH24MISS')",
    );
    for (const row of stale.rows as { datname: string }[]) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(row.datname)} WITH (FORCE)`).catch(() => {});
  } finally {
    await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]).catch(() => {});
    await admin.end();
  }
  return template;
}

export interface TestDatabase {
  /** `fairlabel_test_<UTC timestamp>_<random>`: the timestamp lets a later run drop it if this one crashes. */
  name: string;
  /** `databaseUrl` pointed at the clone. */
  url: string;
  /** Drops the clone, closing whatever connections are left. */
  drop(): Promise<void>;
}

/** A fresh clone of `template` on the server of `databaseUrl`. */
export async function cloneTemplate(databaseUrl: string, template: string): Promise<TestDatabase> {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const name = `fairlabel_test_${stamp}_${randomBytes(4).toString('hex')}`;
  const adminUrl = withDatabase(databaseUrl, 'postgres');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails while another session is connected to the template; another
    // file cloning at the same moment is such a session for an instant, so retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(databaseUrl, name),
    async drop() {
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
