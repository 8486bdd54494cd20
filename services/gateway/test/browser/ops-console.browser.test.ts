import { describe, expect } from 'vitest';
import { Job, Queue, Worker } from 'bullmq';
import { stackQueueNames } from '@fairlabel/queues';
import { integrationTest } from '@fairlabel/testing';
import { buildGateway } from '../../src/app.js';
import { launchChromium, type Browser } from './chromium.js';

// The docs and the ops console in a real browser (Debian's chromium through playwright-core), against a
// gateway listening on loopback with this file's own database and Redis prefix. Screenshots go to
// test-results/browser/. If chromium is missing or cannot start, every test here fails with the reason
// (none is skipped).

const fixtures = integrationTest({ app: buildGateway })
  /** The file's gateway listening on loopback: its base URL. */
  .extend('base', { scope: 'file' }, async ({ app }) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  })
  .extend('settlement', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const settlement = new Queue('settlement', { connection: env.redis, prefix: env.prefix });
    onCleanup(() => settlement.close());
    return settlement;
  })
  /** `chromium()`: the file's browser, or the reason it could not start, thrown into the test that needs it. */
  .extend('chromium', { scope: 'file' }, async ({}, { onCleanup }) => {
    let launchError: unknown;
    const launched: Browser | undefined = await launchChromium().catch((err: unknown) => {
      launchError = err;
      return undefined;
    });
    onCleanup(async () => {
      await launched?.close();
    });
    return (): Browser => {
      if (!launched) throw launchError;
      return launched;
    };
  })
  /** The file's browser for one test, with no cookie of an earlier test's sign-in. */
  .extend('browser', async ({ chromium }) => {
    const browser = chromium();
    await browser.context.clearCookies();
    return browser;
  });



const test = fixtures
  /** A settlement event whose consumer failed for good, as an ops user would find it. */
  .extend('failedEvent', async ({ env, settlement }) => async (id: string) => {
    await settlement.add('task.decided', { task_id: 7, job_id: '00000000-0000-4000-8000-000000000007' }, { jobId: id, attempts: 1 });
    const connection = env.redis.duplicate();
    const worker = new Worker('settlement', () => Promise.reject(new Error('the ledger refused the posting: account missing')), { connection, prefix: env.prefix });
    try {
      for (let i = 0; i < 200 && (await settlement.getFailedCount()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await worker.close();
      connection.disconnect();
    }
    expect(await (await Job.fromId(settlement, id))!.getState()).toBe('failed');
  })
  .extend('signIn', async ({ browser }) => async (key: string) => {
    const { page } = browser;
    await page.locator('#key').fill(key);
    await page.locator('button[type=submit]').click();
    await page.waitForLoadState('load');
  });

describe('in chromium', () => {
  test('/docs renders the API documentation and lists the routes, the ops API among them', async ({ app, base, browser }) => {
    const { page } = browser;
    await page.goto(`${base}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(await page.locator('.opblock').count()).toBe(operations);
    const paths = await page.locator('.opblock-summary-path').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
    for (const p of ['/v1/ops/queues', '/v1/ops/queues/{name}/failed/{jobId}/retry', '/v1/ops/overview', '/v1/jobs', '/v1/organizations']) expect(paths).toContain(p);
    await browser.screenshot('docs');
  });

  test('the ops console refuses without a sign-in: the board sends the browser to the sign-in page, and its API answers 401', async ({ seed, base, browser, signIn }) => {
    const { page } = browser;
    await page.goto(`${base}/ops/queues`);
    expect(new URL(page.url()).pathname).toBe('/ops/login');
    await expect.poll(() => page.locator('#key').isVisible()).toBe(true);
    const status = await page.evaluate(async () => (await fetch('/ops/queues/api/queues')).status);
    expect(status).toBe(401);
    await browser.screenshot('ops-login');

    // A client key is turned away on the page, and gets no session.
    await signIn((await seed.client()).key);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('the console is for ops and admin keys');
    expect(await browser.context.cookies(`${base}/ops/queues`)).toEqual([]);
    await browser.screenshot('ops-login-refused');
  });

  test('after an ops sign-in the board shows every queue, and the session cookie is HttpOnly and SameSite=Strict', async ({ ops, base, browser, signIn }) => {
    const { page } = browser;
    await page.goto(`${base}/ops/login`);
    await signIn(ops.key);
    expect(new URL(page.url()).pathname).toBe('/ops/queues');
    const sidebar = page.locator('#bull-board-sidebar');
    for (const name of stackQueueNames) await sidebar.getByText(name, { exact: true }).waitFor({ timeout: 15_000 });
    const [cookie] = await browser.context.cookies(`${base}/ops/queues`);
    expect(cookie).toMatchObject({ name: 'fl_ops_session', httpOnly: true, sameSite: 'Strict', path: '/ops' });
    expect(cookie!.value).not.toContain(ops.key);
    // HttpOnly: a script on the page cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
    await browser.screenshot('ops-queues');
  });

  test('an ops user finds a failed job, with its error, and retries it from the browser', async ({ env, ops, base, settlement, browser, failedEvent, signIn }) => {
    const { page } = browser;
    await failedEvent('outbox-4242');
    await page.goto(`${base}/ops/login`);
    await signIn(ops.key);
    await page.goto(`${base}/ops/queues/queue/settlement?status=failed`);
    const id = page.getByText('outbox-4242', { exact: true });
    await id.waitFor({ timeout: 15_000 });
    await page.getByText('the ledger refused the posting: account missing').first().waitFor();
    await browser.screenshot('ops-failed-job');

    // The job card's first action is Retry (its tooltip says so), confirmed in a dialog.
    const card = page.locator('div', { has: id }).filter({ has: page.locator('button') }).last();
    const retry = card.locator('button[class*="button-GXX8BV"]').first();
    await retry.hover();
    await page.getByText('Retry', { exact: true }).waitFor();
    await retry.click();
    await page.getByText('Are you sure that you want to retry this job?').waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();

    await expect.poll(async () => (await Job.fromId(settlement, 'outbox-4242'))!.getState(), { timeout: 10_000 }).toBe('waiting');
    await expect.poll(() => id.count(), { timeout: 10_000 }).toBe(0);
    const audit = await env.db.selectFrom('audit_log').select(['action', 'actor_key_id']).where('resource_id', '=', 'settlement/outbox-4242').execute();
    expect(audit).toEqual([{ action: 'ops.job.retry', actor_key_id: ops.keyId }]);
    await browser.screenshot('ops-retried');
  });

  test('signing out ends the session: the board sends the browser back to the sign-in', async ({ ops, base, browser, signIn }) => {
    const { page } = browser;
    await page.goto(`${base}/ops/login`);
    await signIn(ops.key);
    expect(new URL(page.url()).pathname).toBe('/ops/queues');
    await page.goto(`${base}/ops/logout`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState('load');
    expect(new URL(page.url()).pathname).toBe('/ops/login');
    await page.goto(`${base}/ops/queues`);
    expect(new URL(page.url()).pathname).toBe('/ops/login');
  });
});
