import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';

// int8 (bigint ids, money in minor units, count(*)) arrives as a string by default. Every such value
// we store fits in 2^53 (money is minor units; 9e15 cents is more than any pay run), so read it as a
// number and fail loudly rather than round if one ever does not.
pg.types.setTypeParser(20, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds Number.MAX_SAFE_INTEGER`);
  return n;
});
// numeric (e.g. avg(), sum() of bigints) -> number; used for aggregates, never for stored money.
pg.types.setTypeParser(1700, (value: string) => Number(value));

export type Db = Kysely<Database>;

export function createPool(connectionString: string, max = 20): pg.Pool {
  // Connections are replaced after 10 minutes: statements planned once per connection (prepared
  // statements, PL/pgSQL) then get planned again with current statistics, however the tables grew.
  // A connection that cannot be made (or a free one that cannot be had) within 10 s fails instead of
  // waiting forever, so a request during a database outage gets its 503 promptly.
  const pool = new pg.Pool({ connectionString, max, application_name: 'fairlabel', maxLifetimeSeconds: 600, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection (Postgres restart) must not crash the process; the pool
  // drops the client and the next query reconnects.
  pool.on('error', () => {});
  // A checked-out client that errors outside a query (a dropped connection, a protocol desync after a
  // failed COPY) emits 'error' with no listener, which would kill the process; its query already
  // fails, and the pool discards the broken client when it is released with the error.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The database name in a postgres:// URL, and the same URL pointed at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Creates the database named in `url` when it does not exist yet (first start on a fresh machine). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // Two processes starting at once: the loser sees duplicate_database, which means "exists".
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await admin.end();
  }
}
