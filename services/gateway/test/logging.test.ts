import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '@fairlabel/http';
import { createLogger } from '@fairlabel/observability';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.close();
});

/** The JSON lines an app logs at `level` while it answers `paths`. */
async function linesAt(level: string, paths: string[]) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const app = await buildHttpApp({ deps: { ...env, logger: createLogger({ level, name: 'gateway', destination: sink }) }, routes: [] });
  await app.ready();
  try {
    for (const url of paths) await app.inject({ method: 'GET', url });
  } finally {
    await app.close();
  }
  return lines;
}

describe('request logs', () => {
  it('are not written at info: a terminal at the default level shows no line per request', async () => {
    const lines = await linesAt('info', ['/healthz', '/v1/nothing-here', '/healthz']);
    expect(lines.filter((l) => typeof l.msg === 'string' && /request|route/.test(l.msg))).toEqual([]);
  });

  it('are one line per request at debug, with method, URL, status and time', async () => {
    const lines = await linesAt('debug', ['/healthz', '/v1/nothing-here']);
    const requests = lines.filter((l) => l.msg === 'request completed');
    expect(requests).toEqual([
      expect.objectContaining({ level: 20, method: 'GET', url: '/healthz', status: 200, ms: expect.any(Number) }),
      expect.objectContaining({ level: 20, method: 'GET', url: '/v1/nothing-here', status: 404 }),
    ]);
    expect(lines.filter((l) => l.msg === 'incoming request')).toEqual([]);
  });
});
