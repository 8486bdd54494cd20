export * from './env.js';
export * from './factories.js';
export * from './app.js';
export * from './tcp-proxy.js';
export * from './fixture.js';
export * from './http.js';
