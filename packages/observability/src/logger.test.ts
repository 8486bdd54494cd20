import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyStream, resolveLogFormat } from './index.js';

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

describe('log format', () => {
  it('auto is readable lines on a terminal and JSON anywhere else; json and pretty force one', () => {
    expect(resolveLogFormat('auto', { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat('auto', { isTTY: false })).toBe('json');
    expect(resolveLogFormat('auto', {})).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', { isTTY: false })).toBe('pretty');
  });

  it('a pretty line has the time, level, process and message on one line, fields after it, secrets redacted', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger({ name: 'gateway', destination: prettyStream({ colorize: false, destination: sink }) });
    log.info({ queue: 'settlement', apiKey: 'fl_abc_secret' }, 'queue paused');
    const out = lines.join('');
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: gateway +queue paused \{/);
    expect(out).toContain('"queue":"settlement"');
    expect(out).not.toContain('fl_abc_secret');
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).not.toContain('{"level"');
  });
});
