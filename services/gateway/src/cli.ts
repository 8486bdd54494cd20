// `pnpm fairlabel <command>`: operator commands that work without an API key (they talk to Postgres
// directly), for bootstrapping an installation and for break-glass key management.
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase, migrateToLatest, type ApiKeyRole, type Db } from '@fairlabel/db';
import { announceKeyRevoked, ApiError } from '@fairlabel/http';
import { createRedis } from '@fairlabel/queues';
import { issueApiKey, listApiKeys, revokeApiKey } from './api-keys.service.js';
import { createOrganization } from './organizations.service.js';

const usage = `usage: pnpm fairlabel <command> [options]

  bootstrap [--new-key]                 create the platform organization and print its first admin key
                                        (refuses when it exists, unless --new-key issues another admin key)
  create-org --kind client|vendor --name NAME
  create-key --org ID --role ROLE [--name NAME] [--worker ID]
  list-keys --org ID
  revoke-key ID

The secret of a new key is printed on the last line, alone.`;

async function bootstrap(db: Db, newKey: boolean): Promise<string> {
  const existing = await db.selectFrom('organizations').select('id').where('kind', '=', 'platform').executeTakeFirst();
  if (existing && !newKey) {
    throw new CliError('the platform organization exists already; run `pnpm fairlabel bootstrap --new-key` to issue another admin key');
  }
  const orgId = existing?.id ?? (await createOrganization(db, { name: 'platform', kind: 'platform' })).id;
  const key = await issueApiKey(db, { organizationId: orgId, role: 'admin', name: existing ? 'admin (bootstrap --new-key)' : 'first admin' });
  console.log(`platform organization: ${orgId}`);
  console.log(`admin key id: ${key.id} (store the key below now: only its hash is kept)`);
  return key.key;
}

class CliError extends Error {}

async function run(db: Db, argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'new-key': { type: 'boolean', default: false },
      kind: { type: 'string' },
      name: { type: 'string' },
      org: { type: 'string' },
      role: { type: 'string' },
      worker: { type: 'string' },
    },
  });
  switch (command) {
    case 'bootstrap':
      console.log(await bootstrap(db, values['new-key'] ?? false));
      return;
    case 'create-org': {
      if (values.kind !== 'client' && values.kind !== 'vendor') throw new CliError('--kind must be client or vendor');
      if (!values.name) throw new CliError('--name is required');
      const org = await createOrganization(db, { name: values.name, kind: values.kind });
      console.log(org.id);
      return;
    }
    case 'create-key': {
      if (!values.org || !values.role) throw new CliError('--org and --role are required');
      const key = await issueApiKey(db, { organizationId: values.org, role: values.role as ApiKeyRole, name: values.name ?? '', workerId: values.worker ?? null });
      console.log(`key id: ${key.id} role: ${key.role}`);
      console.log(key.key);
      return;
    }
    case 'list-keys': {
      if (!values.org) throw new CliError('--org is required');
      for (const k of await listApiKeys(db, values.org)) console.log([k.id, k.prefix, k.role, k.name, k.revoked_at ? 'revoked' : 'active'].join('\t'));
      return;
    }
    case 'revoke-key': {
      const id = positionals[0];
      if (!id) throw new CliError('revoke-key needs the key id');
      // Running gateways cache keys for a few seconds; tell them now (best effort: the cache expires anyway).
      const redis = createRedis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      redis.on('error', () => {});
      const announce = (keyPrefix: string) =>
        announceKeyRevoked(redis, config.REDIS_PREFIX, keyPrefix).catch(() => console.error('could not reach Redis: running gateways forget the key within 10 s'));
      try {
        await revokeApiKey({ db, announce }, id, null);
      } finally {
        redis.disconnect();
      }
      console.log(`revoked ${id}`);
      return;
    }
    default:
      throw new CliError(usage);
  }
}

const config = loadConfigOrExit();
let code = 0;
let db: Db | null = null;
try {
  await ensureDatabase(config.DATABASE_URL);
  db = createDb(createPool(config.DATABASE_URL, 2));
  await migrateToLatest(db);
  await run(db, process.argv.slice(2));
} catch (err) {
  code = 1;
  if (err instanceof CliError) console.error(err.message);
  else if (err instanceof ApiError) console.error(`${err.code}: ${err.message}`);
  else if ((err as { code?: string }).code === '22P02') console.error('an id is not a valid UUID');
  else console.error(`fairlabel: ${(err as Error).message}`);
} finally {
  await db?.destroy();
}
process.exit(code);
