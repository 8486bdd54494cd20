export * from './deps.js';
export * from './infrastructure.js';
export * from './process.js';
export * from './service-main.js';
export * from './supervisor.js';
export * from './banner.js';
