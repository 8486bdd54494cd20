export * from './errors.js';
export * from './common.js';
export * from './organizations.js';
export * from './label-config.js';
export * from './jobs.js';
export * from './events/index.js';
export * from './webhooks.js';
export * from './results.js';
