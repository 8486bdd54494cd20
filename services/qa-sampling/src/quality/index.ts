export * from './accuracy.js';
export { betaCdf, betaQuantile } from './beta.js';
export * from './levels.js';
export * from './overlap.js';
export * from './sampling.js';
export * from './fraud.js';
