import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('defaults reach the local Postgres and Redis', () => {
    const c = loadConfig({});
    expect(c.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/fairlabel');
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.PORT).toBe(3000);
  });

  it('coerces numbers and treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '8080', LOG_LEVEL: '' }).PORT).toBe(8080);
  });

  it('names the variable that is wrong', () => {
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const vars = (err as ConfigError).issues.map((i) => i.variable).sort();
      expect(vars).toEqual(['PORT']);
    }
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });
});
