import pg from 'pg';
import { createDb, createPool, migrateToLatest, migrationsFingerprint, withDatabase } from '@fairlabel/db';
import { loadConfig } from '@fairlabel/config';
import { maybeStartContainers } from './containers.js';

/**
 * Runs once per `vitest run`: builds a migrated template database named after a fingerprint of the
 * migration files (so it is rebuilt only when they change). Each test file clones it, which takes
 * milliseconds, instead of migrating its own database.
 */
export default async function setup({ provide }: { provide: (key: string, value: string) => void }) {
  const containers = await maybeStartContainers();
  if (containers) {
    // Forked test workers inherit this process's environment, so they reach the containers too.
    process.env.DATABASE_URL = containers.databaseUrl;
    process.env.REDIS_URL = containers.redisUrl;
  }
  const config = loadConfig();
  const template = `fairlabel_tpl_${await migrationsFingerprint()}`;
  const admin = new pg.Client({ connectionString: withDatabase(config.DATABASE_URL, 'postgres') });
  await admin.connect();
  try {
    // Serialise concurrent runs (two developers' terminals, CI retries) on one advisory lock.
    await admin.query('SELECT pg_advisory_lock(727274)');
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (!exists.rowCount) {
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      const pool = createPool(withDatabase(config.DATABASE_URL, building), 2);
      const db = createDb(pool);
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
    // Each run stamps the template it uses. Templates of other migration sets are dropped only once
    // unused for a day: several checkouts (branches, worktrees) share one server and each needs its own.
    await admin.query(`COMMENT ON DATABASE ${template} IS ${pg.escapeLiteral(`fairlabel test template, last used ${new Date().toISOString()}`)}`);
    const old = await admin.query(
      `SELECT d.datname FROM pg_database d LEFT JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass
        WHERE d.datname LIKE 'fairlabel_tpl_%' AND d.datname <> $1
          AND coalesce(substring(s.description FROM 'last used (.*)$')::timestamptz, '-infinity') < now() - interval '1 day'`,
      [template],
    );
    for (const row of old.rows as { datname: string }[]) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(row.datname)}`).catch(() => {});
    // Test databases of runs that crashed before their cleanup.
    const stale = await admin.query(
      "SELECT datname FROM pg_database WHERE datname LIKE 'fairlabel_test_%' AND datname < 'fairlabel_test_' || to_char(now() - interval '2 hours', 'YYYYMMDDHH24MISS')",
    );
    for (const row of stale.rows as { datname: string }[]) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(row.datname)} WITH (FORCE)`).catch(() => {});
  } finally {
    await admin.query('SELECT pg_advisory_unlock(727274)').catch(() => {});
    await admin.end();
  }
  provide('templateDatabase', template);
  return containers?.stop;
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}
