import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { loadConfig } from '@fairlabel/config';
import { dbTest } from '@fairlabel/db/testing';
import { deleteKeysWithPrefix } from '@fairlabel/queues';
import { launchChromium } from '../../services/gateway/test/browser/chromium.js';
import { CHART_IDS } from './report.js';
import type { DemoResult } from './run.js';

// The demonstration at its small size (`pnpm start --demo --small`: 20 workers, 38 items) as the
// README's first command runs it: scripts/start.ts with every process of the stack, on this file's own
// database and Redis prefix, the demo against it over HTTP. Its exit code and its checks (the
// invariants among them) must all be good, and demo-report.html must show its four charts in chromium.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface DemoRun {
  code: number | null;
  output: string;
  result: DemoResult | null;
  report: string;
}

const test = dbTest.extend('demo', { scope: 'file' }, async ({ database }, { onCleanup }): Promise<DemoRun> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fairlabel-demo-'));
  const prefix = `demo-test-${process.pid}-${Date.now()}`;
  onCleanup(async () => {
    rmSync(dir, { recursive: true, force: true });
    const redis = new Redis(loadConfig().REDIS_URL);
    try {
      await deleteKeysWithPrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  });
  const report = path.join(dir, 'demo-report.html');
  const json = path.join(dir, 'demo.json');
  // A stack of its own key for sealing webhook secrets (a test key, as the other test stacks use), not
  // the one `pnpm start` would generate into the checkout's .fairlabel/.
  const env = {
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_PREFIX: prefix,
    PORT: String(await freePort()),
    METRICS_PORT: '0',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    SECRETS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', '--demo', '--small', '--report', report, '--json', json], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  let result: DemoResult | null = null;
  try {
    result = JSON.parse(readFileSync(json, 'utf8')) as DemoResult;
  } catch {
    /* the demo stopped before its result: the tests say so with the output */
  }
  const lines = output.split('\n').filter((l) => !l.startsWith('{'));
  return { code, output: lines.slice(-80).join('\n'), result, report };
});

describe('the demonstration (pnpm start --demo --small)', () => {
  test('runs the whole story and every check holds: no lost task, no task over its overlap, a balanced ledger, each accepted assignment paid once', async ({ demo }) => {
    expect(demo.result, demo.output).not.toBeNull();
    const failed = demo.result!.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    expect(failed, demo.output).toEqual([]);
    expect(demo.result!.checks.filter((c) => c.invariant).map((c) => c.name)).toEqual([
      'no task is lost: every imported item is there and decided',
      'no submission is lost: every one is in the results and decided',
      'no task over its overlap',
      'the ledger balances',
      'every accepted assignment is paid exactly once',
      'reconciliation finds nothing after the payouts',
    ]);
    expect(demo.result!.work.submits, demo.output).toBeGreaterThan(0);
    expect(demo.code, demo.output).toBe(0);
    expect(demo.output).toMatch(/Every check passed\./);
  }, 200_000);

  test('writes demo-report.html with its four charts and the chart library inside, fetching nothing', ({ demo }) => {
    const page = readFileSync(demo.report, 'utf8');
    for (const id of CHART_IDS) expect(page).toContain(`<canvas id="${id}">`);
    expect(page).toContain('Chart.defaults');
    expect(page).toMatch(/Chart\.js v4\.\d+\.\d+/);
    expect(page).not.toMatch(/<script[^>]+src=/i);
    expect(page).not.toMatch(/<link[^>]+href=/i);
  });

  test('the report renders its charts in chromium, offline', async ({ demo }) => {
    const browser = await launchChromium();
    try {
      const { page } = browser;
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(demo.report).href);
      await page.waitForFunction('document.body.dataset.charts === "rendered"', undefined, { timeout: 15_000 });
      // Each chart drew something: a canvas of real size with pixels that are not blank. (The page's
      // code is a string: this file is compiled without the DOM's types.)
      const drawn = (await page.evaluate(`${JSON.stringify(CHART_IDS)}.map((id) => {
        const canvas = document.getElementById(id);
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return { id, width: canvas.width, height: canvas.height, painted };
      })`)) as { id: string; width: number; height: number; painted: number }[];
      expect(drawn.map((c) => c.id)).toEqual([...CHART_IDS]);
      for (const c of drawn) {
        expect(c.width, c.id).toBeGreaterThan(200);
        expect(c.height, c.id).toBeGreaterThan(200);
        expect(c.painted, c.id).toBeGreaterThan(1000);
      }
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(demo.report).href]);
      await browser.screenshot('demo-report');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
