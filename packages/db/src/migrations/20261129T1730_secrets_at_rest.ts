import { sql, type Kysely } from 'kysely';
import { isSealed, keyringFrom, openSecret, sealSecret, type Keyring } from '../secret-box.js';

// Secrets at rest (issue 9).
//
// 1. An API key or webhook secret issued under an Idempotency-Key was stored whole in
//    idempotency_keys.response_body, and a replay handed it out again. Responses that carry a secret
//    are now stored without it (`secret_withheld`; a replay is a 409 secret_already_issued), and the
//    secrets already stored are erased here. Erased is erased: the down keeps them erased.
// 2. Webhook signing secrets were stored in clear. They are sealed with AES-256-GCM under
//    SECRETS_ENCRYPTION_KEY (packages/db/src/secret-box.ts; bound to the endpoint id), here for the rows
//    that exist; the down opens them again. Either direction needs the key only when there are rows.

export function keyringFromEnv(): Keyring {
  return keyringFrom(process.env.SECRETS_ENCRYPTION_KEY || undefined, process.env.SECRETS_ENCRYPTION_OLD_KEYS ?? '');
}

interface SecretRow {
  id: string;
  secret: string;
  previous_secret: string | null;
}

async function rewriteSecrets(db: Kysely<unknown>, change: (value: string, id: string) => string | null): Promise<number> {
  const { rows } = await sql<SecretRow>`SELECT id, secret, previous_secret FROM webhook_endpoints ORDER BY id FOR UPDATE`.execute(db);
  let changed = 0;
  for (const row of rows) {
    const secret = change(row.secret, row.id);
    const previous = row.previous_secret === null ? null : change(row.previous_secret, row.id);
    if (secret === null && previous === null) continue;
    await sql`UPDATE webhook_endpoints SET secret = ${secret ?? row.secret}, previous_secret = ${previous ?? row.previous_secret} WHERE id = ${row.id}::uuid`.execute(db);
    changed++;
  }
  return changed;
}

/** Seals every webhook secret still in clear; returns how many endpoints changed. */
export async function sealWebhookSecrets(db: Kysely<unknown>, ring: () => Keyring): Promise<number> {
  let keyring: Keyring | null = null;
  return rewriteSecrets(db, (value, id) => (isSealed(value) ? null : sealSecret((keyring ??= ring()), value, id)));
}

/** Opens every sealed webhook secret (the down). */
export async function openWebhookSecrets(db: Kysely<unknown>, ring: () => Keyring): Promise<number> {
  let keyring: Keyring | null = null;
  return rewriteSecrets(db, (value, id) => (isSealed(value) ? openSecret((keyring ??= ring()), value, id) : null));
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE idempotency_keys ADD COLUMN secret_withheld boolean NOT NULL DEFAULT false`.execute(db);
  await sql`COMMENT ON COLUMN idempotency_keys.secret_withheld IS 'the response carried a secret (an API key, a webhook secret), which is not stored; a replay is a 409 secret_already_issued'`.execute(db);
  await sql`
    UPDATE idempotency_keys SET response_body = response_body - 'key', secret_withheld = true
    WHERE jsonb_typeof(response_body) = 'object' AND response_body ? 'key' AND path LIKE '%/api-keys%'
  `.execute(db);
  await sql`
    UPDATE idempotency_keys SET response_body = response_body - 'secret', secret_withheld = true
    WHERE jsonb_typeof(response_body) = 'object' AND response_body ? 'secret' AND path LIKE '/v1/webhooks%'
  `.execute(db);
  await sql`ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_check, DROP CONSTRAINT webhook_endpoints_previous_secret_check`.execute(db);
  await sealWebhookSecrets(db, keyringFromEnv);
  await sql`
    ALTER TABLE webhook_endpoints
      ADD CONSTRAINT webhook_endpoints_secret_check CHECK (secret LIKE 'fl1.%'),
      ADD CONSTRAINT webhook_endpoints_previous_secret_check CHECK (previous_secret LIKE 'fl1.%')
  `.execute(db);
  await sql`COMMENT ON COLUMN webhook_endpoints.secret IS 'sealed with AES-256-GCM under SECRETS_ENCRYPTION_KEY (packages/db/src/secret-box.ts), bound to the endpoint id'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`COMMENT ON COLUMN webhook_endpoints.secret IS NULL`.execute(db);
  await sql`ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_check, DROP CONSTRAINT webhook_endpoints_previous_secret_check`.execute(db);
  await openWebhookSecrets(db, keyringFromEnv);
  await sql`
    ALTER TABLE webhook_endpoints
      ADD CONSTRAINT webhook_endpoints_secret_check CHECK (secret LIKE 'whsec\_%'),
      ADD CONSTRAINT webhook_endpoints_previous_secret_check CHECK (previous_secret LIKE 'whsec\_%')
  `.execute(db);
  await sql`ALTER TABLE idempotency_keys DROP COLUMN secret_withheld`.execute(db);
}
