import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import { dbTest as test } from '../src/testing/index.js';
import { migrationBefore } from './migration-before.js';
import { createMigrator, isSealed, keyringFrom, migrateToLatest, openSecret, type Db } from '../src/index.js';

// The secrets-at-rest migration on rows written before it: webhook secrets in clear get sealed (and
// `down` opens them again), secrets kept in idempotency replays are erased (and stay erased).

const MIGRATION = '20261129T1730_secrets_at_rest';

async function one<T>(db: Db, query: ReturnType<typeof sql<T>>): Promise<T> {
  return (await query.execute(db)).rows[0]!;
}

describe(MIGRATION, () => {
  test('seals existing webhook secrets, erases stored API keys and secrets from idempotency replays, and down opens the secrets again', async ({ db }) => {
    const migrator = createMigrator(db);
    const before = await migrationBefore(migrator, MIGRATION);
    expect((await migrator.migrateTo(before)).error).toBeUndefined();

    const org = await one(db, sql<{ id: string }>`INSERT INTO organizations (name, kind) VALUES ('c', 'client') RETURNING id`);
    const endpoint = await one(
      db,
      sql<{ id: string }>`INSERT INTO webhook_endpoints (organization_id, url, event_types, secret, previous_secret, previous_secret_expires_at)
        VALUES (${org.id}, 'https://example.com/h', '{job.completed}', 'whsec_current', 'whsec_previous', now() + interval '1 day') RETURNING id`,
    );
    await sql`INSERT INTO idempotency_keys (organization_id, key, method, path, request_hash, status_code, response_body) VALUES
      (${org.id}, 'k1', 'POST', ${`/v1/organizations/${org.id}/api-keys`}, 'h', 201, '{"id":"a","key":"fl_live_secret"}'),
      (${org.id}, 'k2', 'POST', '/v1/webhooks', 'h', 201, '{"id":"b","secret":"whsec_current"}'),
      (${org.id}, 'k3', 'POST', '/v1/jobs', 'h', 201, '{"id":"c","name":"kept"}')`.execute(db);

    const saved = { key: process.env.SECRETS_ENCRYPTION_KEY, old: process.env.SECRETS_ENCRYPTION_OLD_KEYS };
    const key = Buffer.alloc(32, 9).toString('base64');
    try {
      // Without a key the migration refuses (rows to seal) and leaves everything as it was.
      delete process.env.SECRETS_ENCRYPTION_KEY;
      const refused = await migrator.migrateTo(MIGRATION);
      expect(String(refused.error)).toContain('SECRETS_ENCRYPTION_KEY is not set');
      expect(await one(db, sql<{ secret: string }>`SELECT secret FROM webhook_endpoints WHERE id = ${endpoint.id}`)).toEqual({ secret: 'whsec_current' });

      process.env.SECRETS_ENCRYPTION_KEY = key;
      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const sealed = await one(db, sql<{ secret: string; previous_secret: string }>`SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${endpoint.id}`);
      const ring = keyringFrom(key);
      expect(isSealed(sealed.secret) && isSealed(sealed.previous_secret)).toBe(true);
      expect(openSecret(ring, sealed.secret, endpoint.id)).toBe('whsec_current');
      expect(openSecret(ring, sealed.previous_secret, endpoint.id)).toBe('whsec_previous');
      const replays = (await sql<{ key: string; response_body: unknown; secret_withheld: boolean }>`SELECT key, response_body, secret_withheld FROM idempotency_keys ORDER BY key`.execute(db)).rows;
      expect(replays).toEqual([
        { key: 'k1', response_body: { id: 'a' }, secret_withheld: true },
        { key: 'k2', response_body: { id: 'b' }, secret_withheld: true },
        { key: 'k3', response_body: { id: 'c', name: 'kept' }, secret_withheld: false },
      ]);
      // A secret in clear is refused from now on.
      await expect(sql`UPDATE webhook_endpoints SET secret = 'whsec_plain' WHERE id = ${endpoint.id}`.execute(db)).rejects.toThrow(/webhook_endpoints_secret_check/);

      expect((await migrator.migrateTo(before)).error).toBeUndefined();
      expect(await one(db, sql`SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${endpoint.id}`)).toEqual({ secret: 'whsec_current', previous_secret: 'whsec_previous' });
      expect(await one(db, sql`SELECT response_body FROM idempotency_keys WHERE key = 'k1'`)).toEqual({ response_body: { id: 'a' } });
      await migrateToLatest(db);
    } finally {
      if (saved.key === undefined) delete process.env.SECRETS_ENCRYPTION_KEY;
      else process.env.SECRETS_ENCRYPTION_KEY = saved.key;
      if (saved.old !== undefined) process.env.SECRETS_ENCRYPTION_OLD_KEYS = saved.old;
    }
  });
});
