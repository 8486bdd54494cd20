// Prints the OpenAPI document (`pnpm openapi > openapi.json`) without listening on a port.
import { loadConfigOrExit } from '@fairlabel/config';
import { createDeps } from '@fairlabel/runtime';
import { buildGateway } from './app.js';

const deps = createDeps(loadConfigOrExit({ ...process.env, LOG_LEVEL: 'silent' }), 'openapi');
const app = await buildGateway(deps);
await app.ready();
process.stdout.write(JSON.stringify(app.swagger(), null, 2) + '\n');
await app.close();
await deps.close();
