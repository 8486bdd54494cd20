export * from './redis.js';
export * from './publish.js';
export * from './queue-set.js';
export * from './relay.js';
export * from './consumer.js';
