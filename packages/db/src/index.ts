export * from './pool.js';
export * from './migrator.js';
export * from './sql-files.js';
export * from './sql-constants.js';
export * from './errors.js';
export type { Database } from './schema.js';
export type * from './tables/core.js';
export type * from './tables/work.js';
export { sql } from 'kysely';
