import { Writable } from 'node:stream';
import { describe, expect } from 'vitest';
import { buildHttpApp } from '@fairlabel/http';
import { createLogger } from '@fairlabel/observability';
import { integrationTest, type TestEnv } from '@fairlabel/testing';

const test = integrationTest();

/** The JSON lines an app logs at `level` while it answers `paths`. */
async function linesAt(env: TestEnv, level: string, paths: string[]) {
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
  test('are not written at info: a terminal at the default level shows no line per request', async ({ env }) => {
    const lines = await linesAt(env, 'info', ['/healthz', '/v1/nothing-here', '/healthz']);
    expect(lines.filter((l) => typeof l.msg === 'string' && /request|route/.test(l.msg))).toEqual([]);
  });

  test('are one line per request at debug, with method, URL, status and time', async ({ env }) => {
    const lines = await linesAt(env, 'debug', ['/healthz', '/v1/nothing-here']);
    const requests = lines.filter((l) => l.msg === 'request completed');
    expect(requests).toEqual([
      expect.objectContaining({ level: 20, method: 'GET', url: '/healthz', status: 200, ms: expect.any(Number) }),
      expect.objectContaining({ level: 20, method: 'GET', url: '/v1/nothing-here', status: 404 }),
    ]);
    expect(lines.filter((l) => l.msg === 'incoming request')).toEqual([]);
  });
});
