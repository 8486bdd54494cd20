// Prints the OpenAPI document (`pnpm openapi > openapi.json`) without listening on a port.
import { loadConfigOrExit } from '@fairlabel/config';
import { newEncryptionKey } from '@fairlabel/db';
import { createDeps } from '@fairlabel/runtime';
import { buildGateway } from './app.js';

// The document does not depend on the secrets key and nothing is stored: a throwaway key lets it print
// where none is configured (CI's `pnpm sdk:check`, a fresh checkout).
const env = { SECRETS_ENCRYPTION_KEY: newEncryptionKey(), ...process.env, LOG_LEVEL: 'silent' };
const deps = createDeps(loadConfigOrExit(env), 'openapi');
const app = await buildGateway(deps);
await app.ready();
process.stdout.write(JSON.stringify(app.swagger(), null, 2) + '\n');
await app.close();
await deps.close();
