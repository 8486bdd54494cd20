// After a rotation of SECRETS_ENCRYPTION_KEY (old key moved to SECRETS_ENCRYPTION_OLD_KEYS): re-seals
// every webhook secret under the new key, so the old one can be dropped. Safe to run again.
//   pnpm -s tsx services/task-dispatch/src/reseal-secrets.cli.ts
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, keyringFrom } from '@fairlabel/db';
import { resealWebhookSecrets } from './webhook-secrets.service.js';

const config = loadConfigOrExit();
const keyring = keyringFrom(config.SECRETS_ENCRYPTION_KEY, config.SECRETS_ENCRYPTION_OLD_KEYS);
const db = createDb(createPool(config.DATABASE_URL, 2));
try {
  const { resealed, unopenable } = await resealWebhookSecrets(db, keyring);
  console.log(`re-sealed ${resealed} webhook endpoint(s) under key ${keyring.current.id}; ${unopenable} sealed with a key that is not configured`);
  process.exitCode = unopenable ? 1 : 0;
} finally {
  await db.destroy();
}
