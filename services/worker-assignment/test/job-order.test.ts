import { describe, expect, vi } from 'vitest';
import { createDb, createPool } from '@fairlabel/db';
import { createLogger } from '@fairlabel/observability';
import { integrationTest } from '@fairlabel/testing';
import { hintedJobOrder } from '../src/job-order.js';

// The hinted job order during a Postgres outage (issue 9: its background reload rejected with nobody
// listening, and the unhandled rejection ended the gateway).
const test = integrationTest();

function unhandledRejections() {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  return { seen, stop: () => process.off('unhandledRejection', onRejection) };
}

describe('hinted job order', () => {
  test('keeps serving the last order when a reload fails, logs the failure, and leaves no rejection unhandled', async ({ env, seed }) => {
    // Every active job of the database is in the order; the fixture left none of another test's.
    const job = await seed.activeJob(2);
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

  test('with no order yet and Postgres unreachable, answers an empty hint (the claim then searches every job) instead of throwing', async ({ env }) => {
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
