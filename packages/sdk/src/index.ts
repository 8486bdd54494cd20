// @fairlabel/sdk: a typed client of the fairlabel REST API (openapi-fetch over types generated from the
// gateway's OpenAPI document) and the helpers every user writes: paging, streamed imports with
// progress, the worker loop, webhook signature checks. See the README's "SDK" section.
export { createFairlabel, Fairlabel, unwrap, type Api, type ExportQuery, type FairlabelOptions, type JobProgress, type ItemOf, type PagedPath, type PageOf, type PageParams, type RawRequest, type Schemas } from './client.js';
export { FairlabelError, type ErrorBody, type ErrorDetail } from './errors.js';
export type { components, operations, paths } from './generated/openapi.js';
export { formatOfFile, importFile, importTasks, RowCounter, type BodyFormat, type ImportOptions, type ImportProgress, type ImportResult, type ImportSource } from './import.js';
export { runWorker, type Assignment, type Lease, type Submission, type WorkContext, type WorkerEvent, type WorkerLoopOptions, type WorkerLoopResult } from './worker.js';
export { verifyWebhook, WebhookVerificationError, type VerifiedWebhook, type WebhookHeaders } from './webhooks.js';
