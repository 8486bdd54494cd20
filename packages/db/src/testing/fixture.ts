import { inject, test } from 'vitest';
import { loadConfig } from '@fairlabel/config';
import { createDb, createPool, type Db } from '../pool.js';
import { cloneTemplate } from './template.js';

/**
 * The lowest test fixture: a database of the file's own, cloned from the migrated template that the
 * global setup built (`packages/db/src/testing/global-setup.ts`), and dropped after the file's last
 * test. Tests of a file share it (they run one after another); files run in parallel, each on its own.
 *
 *   import { dbTest as test } from '@fairlabel/db/testing';
 *   test('…', async ({ db }) => { … });
 *
 * `@fairlabel/queues/testing` adds Redis to it and `@fairlabel/testing` a whole service stack.
 */
export const dbTest = test
  .extend('database', { scope: 'file' }, async ({}, { onCleanup }) => {
    const database = await cloneTemplate(loadConfig().DATABASE_URL, inject('templateDatabase'));
    onCleanup(() => database.drop());
    return database;
  })
  .extend('db', { scope: 'file' }, async ({ database }, { onCleanup }): Promise<Db> => {
    const db = createDb(createPool(database.url, 5));
    onCleanup(() => db.destroy());
    return db;
  });

declare module 'vitest' {
  export interface ProvidedContext {
    /** Name of the migrated template database of this run's schema (see global-setup.ts). */
    templateDatabase: string;
  }
}
