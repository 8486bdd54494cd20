export * from './env.js';
export * from './factories.js';
export * from './app.js';
// The outage proxy lives with the database half of the harness; services import it from here too.
export { proxyFor, TcpProxy } from '@fairlabel/db/testing';
export * from './fixture.js';
export * from './http.js';
