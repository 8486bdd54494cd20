import { openSecret, sealSecret, sealedKeyId, sql, type Db, type Keyring } from '@fairlabel/db';

/**
 * Re-seals every webhook secret that another key than the current one sealed (after a rotation of
 * SECRETS_ENCRYPTION_KEY), one endpoint per statement under a row lock. Returns how many endpoints it
 * re-sealed and how many still hold a value it cannot open (sealed with a key that is not configured).
 */
export async function resealWebhookSecrets(db: Db, keyring: Keyring): Promise<{ resealed: number; unopenable: number }> {
  const current = keyring.current.id;
  const stale = await db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where((eb) => eb.or([eb('secret', 'not like', `fl1.${current}.%`), eb.and([eb('previous_secret', 'is not', null), eb('previous_secret', 'not like', `fl1.${current}.%`)])]))
    .execute();
  let resealed = 0;
  let unopenable = 0;
  for (const { id } of stale) {
    await db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('webhook_endpoints').select(['secret', 'previous_secret']).where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row) return;
      const reseal = (value: string) => (sealedKeyId(value) === current ? value : sealSecret(keyring, openSecret(keyring, value, id), id));
      try {
        await trx
          .updateTable('webhook_endpoints')
          .set({ secret: reseal(row.secret), previous_secret: row.previous_secret === null ? null : reseal(row.previous_secret), updated_at: sql<Date>`updated_at` })
          .where('id', '=', id)
          .execute();
        resealed++;
      } catch {
        unopenable++;
      }
    });
  }
  return { resealed, unopenable };
}
