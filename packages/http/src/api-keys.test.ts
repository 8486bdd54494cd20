import { describe, expect, it } from 'vitest';
import { apiKeyMatches, generateApiKey, parseApiKey } from './api-keys.js';

describe('api keys', () => {
  it('generates keys whose prefix parses back and whose hash matches', () => {
    const { key, prefix, hash } = generateApiKey();
    expect(parseApiKey(key)).toEqual({ prefix });
    expect(apiKeyMatches(key, hash)).toBe(true);
    expect(apiKeyMatches(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), hash)).toBe(false);
  });

  it('rejects strings that cannot be keys', () => {
    expect(parseApiKey('')).toBeNull();
    expect(parseApiKey('fl_short_x')).toBeNull();
    expect(parseApiKey('Bearer fl_abc')).toBeNull();
  });

  it('never repeats', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey().prefix));
    expect(keys.size).toBe(200);
  });
});
