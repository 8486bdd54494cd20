// `pnpm migrate` applies every pending migration; `pnpm migrate down` reverts the last one.
import { loadConfigOrExit } from '@fairlabel/config';
import { createDb, createPool, ensureDatabase } from './pool.js';
import { migrateDownOne, migrateToLatest } from './migrator.js';

const config = loadConfigOrExit();
const direction = process.argv[2] ?? 'up';
if (direction !== 'up' && direction !== 'down') {
  console.error('usage: pnpm migrate [up|down]');
  process.exit(64);
}
try {
  if (direction === 'up' && (await ensureDatabase(config.DATABASE_URL))) console.log('created database');
  const pool = createPool(config.DATABASE_URL, 2);
  const db = createDb(pool);
  try {
    const ran = direction === 'up' ? await migrateToLatest(db) : await migrateDownOne(db);
    console.log(ran.length ? ran.join('\n') : 'nothing to migrate');
  } finally {
    await db.destroy();
  }
} catch (err) {
  console.error(`migration failed: ${(err as Error).message}`);
  process.exit(1);
}
