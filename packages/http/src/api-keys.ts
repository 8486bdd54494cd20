import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `fl_<prefix>_<secret>`. The prefix (public, unique) finds the row; the whole key
 * is compared by its sha256 in constant time. 32 random bytes of secret make brute force pointless,
 * so a slow password hash would only cost latency on every request.
 */
const KEY_PATTERN = /^fl_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export function generateApiKey(): GeneratedKey {
  const prefix = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
  const key = `fl_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** The prefix of a well-formed key, or null for anything that cannot be a key. */
export function parseApiKey(key: string): { prefix: string } | null {
  const m = KEY_PATTERN.exec(key);
  return m ? { prefix: m[1]! } : null;
}

export function apiKeyMatches(key: string, storedHash: Buffer): boolean {
  const candidate = hashApiKey(key);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}
