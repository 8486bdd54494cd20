import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, serveMetrics } from '../src/index.js';

describe('serveMetrics', () => {
  it('serves the registry as Prometheus text on its own port, and nothing else', async () => {
    const registry = new Registry();
    new Counter({ name: 'fairlabel_test_things_total', help: 'things', registers: [registry] }).inc(3);
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0, logger: createLogger({ level: 'silent' }) });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toContain('fairlabel_test_things_total 3');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
