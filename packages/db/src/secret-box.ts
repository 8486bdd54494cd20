import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets the platform must be able to read back (webhook signing secrets) are stored encrypted with
 * AES-256-GCM under a key from the configuration, never in clear. A sealed value names the key that
 * sealed it, so keys can be rotated: the current key seals, it and the old keys open.
 *
 *   fl1.<key id>.<iv>.<ciphertext>.<tag>      (base64url parts; key id: the first 8 bytes of sha256(key), hex)
 *
 * `aad` binds a sealed value to where it belongs (e.g. its row id): a ciphertext copied to another row
 * does not open there.
 */
const PREFIX = 'fl1';

export interface Keyring {
  /** Seals new values. */
  current: { id: string; key: Buffer };
  /** Every key that may open a value, by id (the current one included). */
  keys: Map<string, Buffer>;
}

export class KeyringError extends Error {
  override readonly name = 'KeyringError';
}

/** A key as configured: 32 bytes, base64 or base64url. */
export function parseKey(text: string): Buffer {
  const key = Buffer.from(text.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+=*$/.test(text.trim())) throw new KeyringError('an encryption key is 32 bytes, base64-encoded (`openssl rand -base64 32`)');
  return key;
}

export const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

/** A keyring from SECRETS_ENCRYPTION_KEY (the current key) and SECRETS_ENCRYPTION_OLD_KEYS (comma-separated, still opened). */
export function keyringFrom(current: string | undefined, old = ''): Keyring {
  if (!current) throw new KeyringError('SECRETS_ENCRYPTION_KEY is not set: webhook secrets are stored encrypted with it (32 bytes, base64; `pnpm start` generates one into .fairlabel/secrets-encryption-key)');
  const key = parseKey(current);
  const keys = new Map<string, Buffer>([[keyIdOf(key), key]]);
  for (const text of old.split(',').map((s) => s.trim()).filter(Boolean)) {
    const k = parseKey(text);
    keys.set(keyIdOf(k), k);
  }
  return { current: { id: keyIdOf(key), key }, keys };
}

export const isSealed = (value: string) => value.startsWith(`${PREFIX}.`);

export function sealSecret(ring: Keyring, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [PREFIX, ring.current.id, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The key id a sealed value was sealed with. */
export function sealedKeyId(sealed: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== PREFIX) throw new KeyringError('not a sealed secret');
  return parts[1]!;
}

export function openSecret(ring: Keyring, sealed: string, aad: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== PREFIX) throw new KeyringError('not a sealed secret');
  const [, id, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const key = ring.keys.get(id);
  if (!key) throw new KeyringError(`secret sealed with key ${id}, which is not configured (SECRETS_ENCRYPTION_KEY or SECRETS_ENCRYPTION_OLD_KEYS)`);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/** A fresh key for SECRETS_ENCRYPTION_KEY. */
export const newEncryptionKey = () => randomBytes(32).toString('base64');
