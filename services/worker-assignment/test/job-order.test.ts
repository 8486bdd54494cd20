import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDb, createPool } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';
import { hintedJobOrder } from '../src/job-order.js';
import { activeJob, pauseAllJobs } from './helpers.js';

// The hinted job order during a Postgres outage (issue 9: its background reload rejected with nobody
// listening, and the unhandled rejection ended the gateway).
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.close();
});

function unhandledRejections() {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  return { seen, stop: () => process.off('unhandledRejection', onRejection) };
}

describe('hinted job order', () => {
  it('keeps serving the last order when a reload fails, logs the failure, and leaves no rejection unhandled', async () => {
    await pauseAllJobs(env);
    const { job } = await activeJob(env, 2);
    const logger = createLogger({ level: 'silent' });
    const warn = vi.spyOn(logger, 'warn');
    const db = createDb(createPool(env.config.DATABASE_URL, 1));
    const deps = { db, clock: env.clock, logger };
    const rejections = unhandledRejections();
    try {
      expect(await hintedJobOrder(deps)).toEqual([job.id]);
      await db.destroy(); // from here on every query of this handle fails, as in an outage
      env.clock.advance(1_500);
      // Stale: answered at once from the last order while the reload runs (and fails) in the background.
      expect(await hintedJobOrder(deps)).toEqual([job.id]);
      await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1));
      expect(await hintedJobOrder(deps)).toEqual([job.id]);
      env.clock.advance(1_500);
      expect(await hintedJobOrder(deps)).toEqual([job.id]);
      await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(2));
      // Let any stray rejection reach the process before looking.
      await new Promise((r) => setImmediate(r));
      expect(rejections.seen).toEqual([]);
    } finally {
      rejections.stop();
    }
  });

  it('with no order yet and Postgres unreachable, answers an empty hint (the claim then searches every job) instead of throwing', async () => {
    const logger = createLogger({ level: 'silent' });
    const warn = vi.spyOn(logger, 'warn');
    const db = createDb(createPool('postgres://postgres@127.0.0.1:1/nowhere', 1));
    const rejections = unhandledRejections();
    try {
      expect(await hintedJobOrder({ db, clock: env.clock, logger })).toEqual([]);
      expect(warn).toHaveBeenCalledTimes(1);
      await new Promise((r) => setImmediate(r));
      expect(rejections.seen).toEqual([]);
    } finally {
      rejections.stop();
      await db.destroy();
    }
  });
});
