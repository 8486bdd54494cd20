export * from './redis.js';
export * from './publish.js';
export * from './queue-set.js';
export * from './relay.js';
export * from './consumer.js';
export * from './schedulers.js';
export * from './webhook-deliveries.js';
export * from './reconcile/index.js';
