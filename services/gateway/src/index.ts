// The package entry (package.json "exports"): what other workspaces may import, e.g. the SDK's tests,
// which run the whole gateway in-process.
export { buildGateway } from './app.js';
