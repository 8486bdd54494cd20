export { cloneTemplate, prepareTemplate, type TestDatabase } from './template.js';
export { dbTest } from './fixture.js';
export { proxyFor, TcpProxy } from './tcp-proxy.js';
