import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// Debian's chromium driven by playwright-core, for the checks that need a real browser. No browser is
// downloaded: .ci/run installs the distribution's package (apt-get install chromium) when it is missing.
// If chromium cannot run, launching throws with what to do: the browser tests fail, never skip.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** Screenshots of the browser checks: test artifacts, in a gitignored folder. */
export const SCREENSHOTS = path.join(root, 'test-results', 'browser');

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Saves a full-page screenshot as test-results/browser/<name>.png and returns its path. */
  screenshot(name: string, page?: Page): Promise<string>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `chromium is not installed at ${CHROMIUM_PATH}, so the browser checks cannot run. Install Debian's package: apt-get install -y chromium (.ci/run does this when it is missing), or set CHROMIUM_PATH.`,
    );
  }
  // A fresh profile each run: no cookies, cache or state from an earlier run.
  const profile = mkdtempSync(path.join(tmpdir(), 'fairlabel-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`chromium at ${CHROMIUM_PATH} could not be started: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  // The pages under test come from this machine (a local server, or a file such as the demo report); nothing else is fetched.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    return url.protocol === 'data:' || url.protocol === 'file:' || url.hostname === '127.0.0.1' || url.hostname === 'localhost' ? route.continue() : route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    async screenshot(name, on = page) {
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await on.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
