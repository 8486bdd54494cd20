import type { AddressInfo } from 'node:net';
import { buildGateway } from '@fairlabel/gateway';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { createFairlabel, type Fairlabel } from '../src/index.js';

/**
 * The SDK's tests talk HTTP to the whole gateway, in-process on the file's stack, listening on a free
 * loopback port (`baseUrl`); `sdk(actor)` is a client with that actor's key.
 */
export const test = integrationTest({ app: buildGateway })
  .extend('baseUrl', { scope: 'file' }, async ({ app }) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  })
  .extend('sdk', async ({ baseUrl }) => (actor: Actor): Fairlabel => createFairlabel({ baseUrl, apiKey: actor.key }));
