/**
 * Who may call what: ONE row per operation of the OpenAPI document, `'METHOD /path'` as the document
 * writes it. authorization.test.ts turns every row into cells — each role × (own tenant's resource,
 * another tenant's resource) plus a caller without a key — and checks each cell's status against the
 * app. An operation of the document without a row, or a row without an operation, fails the test, so
 * a new route lands with its row. Adding one is one line:
 *
 *   'GET /v1/qa/reviews/{id}': { tenant: 'job', client: 'own', admin: 'any' },
 *
 * - a role named `'own'` may call it on its own tenant's resource (any status but 401/403) and gets 404
 *   for another tenant's (the other tenant's resource must not exist for it);
 * - `'any'`: platform staff, on any tenant's resource (any status but 401/403);
 * - a role not named gets 403 `forbidden`; a caller without a key 401 (unless `public`);
 * - `tenant`: what the path's first parameter is, so the test can make one of the caller's own and one
 *   of another tenant (`organization`, `job`, `webhook`, `worker`, `api_key`, `assignment`). Without it
 *   the route has no tenant-owned resource in its path (lists are scoped by the caller; staff-only
 *   routes see everything) and only the roles are checked.
 * - `body`: a request body that passes validation, where the generic one from the schema would not (a
 *   400 would hide the 404 of another tenant's resource).
 */
export type Role = 'admin' | 'client' | 'vendor' | 'worker' | 'ops' | 'finance';
export type Access = 'own' | 'any';
export type Tenant = 'organization' | 'job' | 'webhook' | 'worker' | 'api_key' | 'assignment';
export type Row = { tenant?: Tenant; public?: true; body?: unknown; note?: string } & Partial<Record<Role, Access>>;

const STAFF = { admin: 'any', ops: 'any', finance: 'any' } as const;
const FINANCE = { finance: 'any', admin: 'any' } as const;
const OPS = { ops: 'any', admin: 'any' } as const;
const EVERYONE = { client: 'own', vendor: 'own', worker: 'own', ...STAFF } as const;
const label = { choices: ['cat'] };

export const authorizationTable: Record<string, Row> = {
  'GET /healthz': { public: true },
  'GET /readyz': { public: true },
  'GET /metrics': { public: true },

  'POST /v1/organizations': { admin: 'any' },
  'GET /v1/organizations': { ...STAFF },
  'GET /v1/organizations/{id}': { tenant: 'organization', ...EVERYONE },
  'GET /v1/auth/whoami': { ...EVERYONE },
  'POST /v1/organizations/{id}/api-keys': { tenant: 'organization', admin: 'any', client: 'own', vendor: 'own', body: { role: 'client' }, note: 'vendors issue vendor keys: role client is a 4xx for them, not a 403' },
  'GET /v1/organizations/{id}/api-keys': { tenant: 'organization', admin: 'any', client: 'own', vendor: 'own' },
  'DELETE /v1/api-keys/{id}': { tenant: 'api_key', admin: 'any', client: 'own', vendor: 'own' },
  'POST /v1/workers/{id}/api-keys': { tenant: 'worker', vendor: 'own', admin: 'any' },

  'POST /v1/jobs': { client: 'own' },
  'GET /v1/jobs': { client: 'own' },
  'GET /v1/jobs/{id}': { tenant: 'job', client: 'own' },
  'PATCH /v1/jobs/{id}': { tenant: 'job', client: 'own', body: { name: 'renamed' } },
  'GET /v1/jobs/{id}/label-config': { tenant: 'job', client: 'own' },
  'POST /v1/jobs/{id}/activate': { tenant: 'job', client: 'own' },
  'POST /v1/jobs/{id}/pause': { tenant: 'job', client: 'own' },
  'POST /v1/jobs/{id}/resume': { tenant: 'job', client: 'own' },
  'POST /v1/jobs/{id}/cancel': { tenant: 'job', client: 'own' },
  'POST /v1/jobs/{id}/tasks': { tenant: 'job', client: 'own' },
  'GET /v1/jobs/{id}/progress': { tenant: 'job', client: 'own' },
  'GET /v1/jobs/{id}/results': { tenant: 'job', client: 'own' },
  'DELETE /v1/jobs/{id}/data': { tenant: 'job', client: 'own' },
  'GET /v1/jobs/{id}/data-purge': { tenant: 'job', client: 'own' },

  'POST /v1/webhooks': { client: 'own', vendor: 'own' },
  'GET /v1/webhooks': { client: 'own', vendor: 'own' },
  'GET /v1/webhooks/{id}': { tenant: 'webhook', client: 'own', vendor: 'own' },
  'DELETE /v1/webhooks/{id}': { tenant: 'webhook', client: 'own', vendor: 'own' },
  'POST /v1/webhooks/{id}/rotate-secret': { tenant: 'webhook', client: 'own', vendor: 'own', body: {} },
  'GET /v1/webhooks/{id}/deliveries': { tenant: 'webhook', client: 'own', vendor: 'own' },
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': { tenant: 'webhook', client: 'own', vendor: 'own' },

  'POST /v1/workers': { vendor: 'own' },
  'GET /v1/workers': { vendor: 'own', ops: 'any', admin: 'any' },
  'GET /v1/workers/{id}': { tenant: 'worker', vendor: 'own', ops: 'any', admin: 'any' },
  'PATCH /v1/workers/{id}': { tenant: 'worker', vendor: 'own', body: { display_name: 'renamed' } },
  'PUT /v1/workers/{id}/skills/{skill}': { tenant: 'worker', vendor: 'own', ops: 'any', admin: 'any', body: { level: 2 } },

  'POST /v1/assignments/next': { worker: 'own' },
  'POST /v1/vendor/assignments:claim': { vendor: 'own', note: 'the route takes any key and refuses other roles in its handler' },
  'POST /v1/assignments/{id}/heartbeat': { tenant: 'assignment', worker: 'own' },
  'POST /v1/assignments/{id}/release': { tenant: 'assignment', worker: 'own', body: { reason: 'skip' } },
  'POST /v1/assignments/{id}/submit': { tenant: 'assignment', worker: 'own', body: { answer: { label }, time_spent_ms: 1000 } },
  'POST /v1/assignments/{id}/appeal': { tenant: 'assignment', worker: 'own', body: { reason: 'my answer was right' }, note: 'own and not rejected: 409; another worker\'s: 404' },
  'POST /v1/reviews/next': { worker: 'own', note: 'a worker under the reviewer level gets 204, not 403' },
  'POST /v1/reviews/{id}/heartbeat': { worker: 'own', note: 'reviews are leased to one worker; another worker\'s lease is 404' },
  'POST /v1/reviews/{id}/complete': { worker: 'own', body: { outcome: 'accept' } },
  'GET /v1/appeals': { worker: 'own', note: 'the appeals this worker may decide' },
  'POST /v1/appeals/{id}/decide': { worker: 'own', body: { outcome: 'upheld', comment: 'the answer was right' } },
  'GET /v1/me': { worker: 'own' },

  'GET /v1/finance/accounts': { ...FINANCE },
  'GET /v1/finance/transactions': { ...FINANCE },
  'GET /v1/finance/transactions/{id}': { ...FINANCE },
  'POST /v1/finance/adjustments': { ...FINANCE },
  'POST /v1/finance/transactions/{id}/reversal': { ...FINANCE },
  'GET /v1/finance/level-multipliers': { ...FINANCE },
  'POST /v1/finance/level-multipliers': { ...FINANCE },
  'GET /v1/finance/vendors/{vendor_id}/contract': { ...FINANCE },
  'POST /v1/finance/vendors/{vendor_id}/contract': { ...FINANCE },
  'POST /v1/finance/pay-runs': { ...FINANCE },
  'GET /v1/finance/pay-runs': { ...FINANCE },
  'GET /v1/finance/pay-runs/{id}': { ...FINANCE },
  'POST /v1/finance/pay-runs/{id}/approve': { ...FINANCE },
  'POST /v1/finance/pay-runs/{id}/payouts': { ...FINANCE },
  'GET /v1/finance/pay-runs/{id}/statements': { ...FINANCE },
  'GET /v1/finance/pay-runs/{id}/payout-file': { ...FINANCE },
  'GET /v1/finance/reconciliation': { ...FINANCE },
  'POST /v1/finance/invoices': { ...FINANCE },
  'GET /v1/finance/invoices': { ...FINANCE },
  'GET /v1/finance/pay-floors': { ...FINANCE },
  'POST /v1/finance/pay-floors': { ...FINANCE },
  'GET /v1/finance/floor-policies': { ...FINANCE },
  'PUT /v1/finance/floor-policies': { ...FINANCE },
  'GET /v1/finance/fx-rates': { ...FINANCE },
  'POST /v1/finance/fx-rates': { ...FINANCE },
  'GET /v1/statements': { worker: 'own', vendor: 'own', ...FINANCE },
  'GET /v1/statements/{id}': { worker: 'own', vendor: 'own', ...FINANCE, note: "another tenant's statement: services/settlement/test (statements need a pay run)" },
  'GET /v1/me/statements': { worker: 'own' },
  'GET /v1/me/earnings': { worker: 'own' },
  'GET /v1/invoices': { client: 'own', ...FINANCE },
  'GET /v1/invoices/{id}': { client: 'own', ...FINANCE, note: "another client's invoice: services/settlement/test" },
  'GET /v1/reports/fair-pay': { ...FINANCE, ops: 'any', vendor: 'own' },

  'GET /v1/jobs/{id}/qa': { tenant: 'job', client: 'own', ops: 'any', admin: 'any' },
  'GET /v1/workers/{id}/quality': { tenant: 'worker', vendor: 'own', ops: 'any', admin: 'any' },
  'GET /v1/me/quality': { worker: 'own' },
  'POST /v1/qa/aggregate': { client: 'own', vendor: 'own', ...OPS, note: 'AGGREGATE_ROLES; the body alone decides the answer' },

  'GET /v1/ops/queues': { ...OPS },
  'GET /v1/ops/queues/{name}/failed': { ...OPS },
  'POST /v1/ops/queues/{name}/failed/{jobId}/retry': { ...OPS },
  'DELETE /v1/ops/queues/{name}/failed/{jobId}': { ...OPS },
  'POST /v1/ops/queues/{name}/pause': { ...OPS },
  'POST /v1/ops/queues/{name}/resume': { ...OPS },
  'GET /v1/ops/overview': { ...OPS },
};
