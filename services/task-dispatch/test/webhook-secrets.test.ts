import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { keyringFrom, openSecret, sealSecret, sealedKeyId } from '@fairlabel/db';
import { integrationTest } from '@fairlabel/testing';
import { resealWebhookSecrets } from '../src/webhook-secrets.service.js';

const test = integrationTest();

describe('re-sealing webhook secrets after a key rotation', () => {
  test('moves every secret the old key sealed to the current key, and counts what no configured key opens', async ({ env, client }) => {
    const oldKey = Buffer.alloc(32, 3).toString('base64');
    const newKey = Buffer.alloc(32, 4).toString('base64');
    const lostKey = Buffer.alloc(32, 5).toString('base64');
    const insert = async (key: string) => {
      const id = randomUUID();
      const ring = keyringFrom(key);
      await env.db
        .insertInto('webhook_endpoints')
        .values({ id, organization_id: client.organizationId, url: 'https://93.184.215.14/h', event_types: ['job.completed'], secret: sealSecret(ring, `whsec_${id}`, id), previous_secret: sealSecret(ring, 'whsec_old', id), previous_secret_expires_at: new Date(Date.now() + 60_000) })
        .execute();
      return id;
    };
    const moved = await insert(oldKey);
    const lost = await insert(lostKey);
    const ring = keyringFrom(newKey, oldKey);
    expect(await resealWebhookSecrets(env.db, ring)).toEqual({ resealed: 1, unopenable: 1 });
    const row = await env.db.selectFrom('webhook_endpoints').select(['secret', 'previous_secret']).where('id', '=', moved).executeTakeFirstOrThrow();
    expect(sealedKeyId(row.secret)).toBe(ring.current.id);
    expect(openSecret(keyringFrom(newKey), row.secret, moved)).toBe(`whsec_${moved}`);
    expect(openSecret(keyringFrom(newKey), row.previous_secret!, moved)).toBe('whsec_old');
    expect(sealedKeyId((await env.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', lost).executeTakeFirstOrThrow()).secret)).not.toBe(ring.current.id);
    // Run again: nothing left to move under keys it knows.
    expect(await resealWebhookSecrets(env.db, ring)).toEqual({ resealed: 0, unopenable: 1 });
    await env.db.deleteFrom('webhook_endpoints').where('id', 'in', [moved, lost]).execute();
  });
});
