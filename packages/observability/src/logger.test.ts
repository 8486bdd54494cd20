import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './index.js';

describe('createLogger', () => {
  it('redacts the Authorization header and API keys', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger({ destination: sink as never });
    log.info({ req: { headers: { authorization: 'Bearer fl_abc_secret' } }, apiKey: 'fl_abc_secret' }, 'hello');
    const out = lines.join('');
    expect(out).toContain('hello');
    expect(out).not.toContain('fl_abc_secret');
    expect(out).toContain('[redacted]');
  });
});
