import { describe, expect, it } from 'vitest';
import { bannerLines } from './banner.js';

describe('the start-up banner', () => {
  const base = { base: 'http://127.0.0.1:3000', metricsPorts: [9465, 9466, 9467], adminKeys: 0, logFormat: 'pretty' as const, logLevel: 'info' };

  it('lists the API, docs, ops console and metrics URLs, and how to get the first admin key', () => {
    const text = bannerLines(base).join('\n');
    expect(bannerLines(base)[0]).toBe('fairlabel is up');
    for (const url of ['http://127.0.0.1:3000/v1', 'http://127.0.0.1:3000/docs', 'http://127.0.0.1:3000/ops', 'http://127.0.0.1:3000/metrics', ':9465–9467/metrics']) expect(text).toContain(url);
    expect(text).toContain('`pnpm fairlabel bootstrap`');
    expect(text).toContain('LOG_FORMAT=json');
    expect(text).toContain('LOG_LEVEL=debug');
  });

  it('says where another admin key comes from once one exists, and how to get JSON or readable logs', () => {
    const text = bannerLines({ ...base, adminKeys: 2, metricsPorts: [], logFormat: 'json', logLevel: 'debug' }).join('\n');
    expect(text).toContain('bootstrap --new-key');
    expect(text).toContain('set METRICS_PORT');
    expect(text).toContain('LOG_FORMAT=pretty');
    expect(text).not.toContain('LOG_LEVEL=debug');
  });
});
