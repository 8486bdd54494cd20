// Every HTTP call the demonstration makes goes through this module, so it can switch to the typed SDK
// (packages/sdk) in one place. Each function is one API operation (named by its operationId) called
// with one role's key, as that user would; a 4xx/5xx throws an ApiError with the error's code.

export class ApiError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${operation}: ${status} ${code}: ${message}`);
  }
}

export interface Call {
  key: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  contentType?: string;
  idempotencyKey?: string;
}

export interface Stats {
  requests: number;
  byOperation: Map<string, number>;
}

export class Api {
  readonly stats: Stats = { requests: 0, byOperation: new Map() };
  constructor(readonly base: string) {}

  async request<T>(operation: string, method: string, path: string, c: Call, accept: readonly number[] = []): Promise<{ status: number; data: T }> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${c.key}` };
    if (c.body !== undefined) headers['content-type'] = c.contentType ?? 'application/json';
    if (c.idempotencyKey) headers['idempotency-key'] = c.idempotencyKey;
    this.stats.requests++;
    this.stats.byOperation.set(operation, (this.stats.byOperation.get(operation) ?? 0) + 1);
    const res = await fetch(url, { method, headers, body: c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body) });
    const text = await res.text();
    if (res.status >= 400 && !accept.includes(res.status)) {
      let code = 'http_error';
      let message = text.slice(0, 500);
      try {
        const err = (JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown[] } }).error;
        code = err?.code ?? code;
        message = `${err?.message ?? message}${err?.details?.length ? ` ${JSON.stringify(err.details.slice(0, 3))}` : ''}`;
      } catch {
        /* not JSON */
      }
      throw new ApiError(operation, res.status, code, message);
    }
    const ct = res.headers.get('content-type') ?? '';
    return { status: res.status, data: (text && ct.includes('json') && !ct.includes('ndjson') ? JSON.parse(text) : text) as T };
  }
}

// ---- response shapes the demo reads (a subset of the OpenAPI schemas) ----

export interface Organization {
  id: string;
  name: string;
}
export interface CreatedKey {
  key: string;
}
export interface Worker {
  id: string;
}
export interface WorkerSkill {
  skill: string;
  level: number;
  source: string;
  suspended_at: string | null;
}
export interface WorkerWithSkills extends Worker {
  status: string;
  skills: WorkerSkill[];
}
export interface Job {
  id: string;
  status: string;
  overlap: number;
}
export interface ImportResult {
  created: number;
  duplicates: number;
  rejected: number;
  errors: { line: number; message: string }[];
}
export interface Assignment {
  id: number;
  task_id: number;
  job_id: string;
  payload: Record<string, unknown>;
  lease_expires_at: string;
  prediction: { value: unknown; confidence: number | null } | null;
  pay: { amount: number; currency: string };
}
export interface Progress {
  job_id: string;
  status: string;
  tasks: { total: number; open: number; decided: number; cancelled: number };
  assignments: { leased: number; submitted: number; accepted: number; rejected: number };
  agreement: number | null;
  cost: { currency: string; client_charges: number; worker_pay: number };
}
export interface ExportedTask {
  task_id: number;
  external_id: string;
  status: string;
  result: unknown;
  agreement: number | null;
  gold: unknown;
  annotations?: { assignment_id: number; worker_id: string; status: string; answer: unknown }[];
}
export interface CreatedWebhook {
  id: string;
  secret: string;
}
export interface PayRun {
  id: number;
  status: string;
  period_end: string;
  statements: number;
  worker_total: string;
  vendor_total: string;
  total: string;
  paid_statements: number;
  floors: { workers_under_floor: number; topped_up: number; topup_total: string; unfunded_shortfall: string; workers_without_floor: number } | null;
}
export interface Statement {
  id: number;
  payee_type: 'worker' | 'vendor';
  worker_id: string | null;
  earnings: string;
  topup: string;
  total: string;
  status: string;
}
export interface Reconciliation {
  ok: boolean;
  ledger: { currency: string; transactions: number; total: string }[];
  jobs: { job_id: string; accepted: number; rejected: number; expected_pay: string; posted_pay: string; charged: string }[];
  discrepancies: { code: string; message: string }[];
  discrepancy_count: number;
}
export interface FairPay {
  workers: { worker_id: string; vendor_id: string; country: string; city_tier: number; hours: number; earnings: string; effective_hourly: string | null; floor_hourly: string | null; under_floor: boolean; topups: string }[];
  summary: { workers: number; hours: number; earnings: string; workers_under_floor: number; workers_without_floor: number; gini: number | null; topups: string; median_effective_hourly: string | null };
  by_tier: { city_tier: number; workers: number; hours: number; earnings: string; workers_under_floor: number }[];
}
interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

// ---- operations ----

const p = encodeURIComponent;

export const ops = {
  whoami: (api: Api, key: string) => api.request<{ organization_id: string; role: string }>('whoami', 'GET', '/v1/auth/whoami', { key }).then((r) => r.data),
  createOrganization: (api: Api, key: string, body: { name: string; kind: 'client' | 'vendor' }) => api.request<Organization>('createOrganization', 'POST', '/v1/organizations', { key, body }).then((r) => r.data),
  createApiKey: (api: Api, key: string, orgId: string, body: { role: string; name: string }) =>
    api.request<CreatedKey>('createApiKey', 'POST', `/v1/organizations/${p(orgId)}/api-keys`, { key, body }).then((r) => r.data.key),
  createWorker: (api: Api, key: string, body: Record<string, unknown>) => api.request<Worker>('createWorker', 'POST', '/v1/workers', { key, body }).then((r) => r.data),
  getWorker: (api: Api, key: string, id: string) => api.request<WorkerWithSkills>('getWorker', 'GET', `/v1/workers/${p(id)}`, { key }).then((r) => r.data),
  setWorkerSkill: (api: Api, key: string, id: string, skill: string, body: { level: number; reason?: string }) =>
    api.request('setWorkerSkill', 'PUT', `/v1/workers/${p(id)}/skills/${p(skill)}`, { key, body }),
  createWorkerApiKey: (api: Api, key: string, id: string) =>
    api.request<CreatedKey>('createWorkerApiKey', 'POST', `/v1/workers/${p(id)}/api-keys`, { key, body: { name: 'demo' } }).then((r) => r.data.key),
  createJob: (api: Api, key: string, body: Record<string, unknown>) => api.request<Job>('createJob', 'POST', '/v1/jobs', { key, body }).then((r) => r.data),
  importTasks: (api: Api, key: string, jobId: string, ndjson: string) =>
    api.request<ImportResult>('importTasks', 'POST', `/v1/jobs/${p(jobId)}/tasks`, { key, body: ndjson, contentType: 'application/x-ndjson', query: { format: 'ndjson' } }).then((r) => r.data),
  activateJob: (api: Api, key: string, jobId: string) => api.request<Job>('activateJob', 'POST', `/v1/jobs/${p(jobId)}/activate`, { key }).then((r) => r.data),
  getJob: (api: Api, key: string, jobId: string) => api.request<Job>('getJob', 'GET', `/v1/jobs/${p(jobId)}`, { key }).then((r) => r.data),
  getJobProgress: (api: Api, key: string, jobId: string) => api.request<Progress>('getJobProgress', 'GET', `/v1/jobs/${p(jobId)}/progress`, { key }).then((r) => r.data),
  exportJobResults: async (api: Api, key: string, jobId: string): Promise<ExportedTask[]> => {
    const { data } = await api.request<string>('exportJobResults', 'GET', `/v1/jobs/${p(jobId)}/results`, { key, query: { format: 'jsonl', include: 'annotations' } });
    return data
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as ExportedTask);
  },
  createWebhookEndpoint: (api: Api, key: string, body: { url: string; event_types: string[]; description?: string }) =>
    api.request<CreatedWebhook>('createWebhookEndpoint', 'POST', '/v1/webhooks', { key, body }).then((r) => r.data),

  /** A worker's claim (long-polls up to `wait` seconds); null when nothing is eligible. */
  claimNextAssignment: async (api: Api, key: string, wait: number): Promise<Assignment | null> => {
    const r = await api.request<Assignment>('claimNextAssignment', 'POST', '/v1/assignments/next', { key, query: { wait } });
    return r.status === 204 ? null : r.data;
  },
  heartbeatAssignment: (api: Api, key: string, id: number) => api.request('heartbeatAssignment', 'POST', `/v1/assignments/${id}/heartbeat`, { key }),
  releaseAssignment: (api: Api, key: string, id: number, reason: 'skip' | 'unclear_instructions') =>
    api.request('releaseAssignment', 'POST', `/v1/assignments/${id}/release`, { key, body: { reason } }),
  submitAssignment: (api: Api, key: string, id: number, body: { answer: unknown; time_spent_ms: number }) =>
    api.request('submitAssignment', 'POST', `/v1/assignments/${id}/submit`, { key, body }),
  /** A worker appeals a rejection (qa-sampling). */
  appealAssignment: (api: Api, key: string, id: number, reason: string) =>
    api.request<{ id: number; status: string }>('appealAssignment', 'POST', `/v1/assignments/${id}/appeal`, { key, body: { reason } }).then((r) => r.data),

  setFloorPolicy: (api: Api, key: string, body: { client_id: string | null; mode: 'top_up' | 'report' | 'off'; funded_by: 'client' | 'platform' }) =>
    api.request('setFloorPolicy', 'PUT', '/v1/finance/floor-policies', { key, body }),
  createFxRate: (api: Api, key: string, body: { base: string; quote: string; effective_from: string; rate: string; source: string }) =>
    api.request('createFxRate', 'POST', '/v1/finance/fx-rates', { key, body }),
  listPayRuns: (api: Api, key: string, currency: string) =>
    api.request<Page<PayRun>>('listPayRuns', 'GET', '/v1/finance/pay-runs', { key, query: { currency, limit: 1 } }).then((r) => r.data.data),
  createPayRun: (api: Api, key: string, body: { currency: string; period_start: string; period_end: string; minimum_payout: number }, idempotencyKey: string) =>
    api.request<PayRun>('createPayRun', 'POST', '/v1/finance/pay-runs', { key, body, idempotencyKey }).then((r) => r.data),
  getPayRun: (api: Api, key: string, id: number) => api.request<PayRun>('getPayRun', 'GET', `/v1/finance/pay-runs/${id}`, { key }).then((r) => r.data),
  approvePayRun: (api: Api, key: string, id: number) => api.request<PayRun>('approvePayRun', 'POST', `/v1/finance/pay-runs/${id}/approve`, { key }).then((r) => r.data),
  listPayRunStatements: async (api: Api, key: string, id: number): Promise<Statement[]> => {
    const all: Statement[] = [];
    let cursor: string | undefined;
    do {
      const page = (await api.request<Page<Statement>>('listPayRunStatements', 'GET', `/v1/finance/pay-runs/${id}/statements`, { key, query: { limit: 500, cursor } })).data;
      all.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return all;
  },
  recordPayouts: (api: Api, key: string, id: number, payouts: { statement_id: number; reference: string }[], idempotencyKey: string) =>
    api.request<PayRun>('recordPayouts', 'POST', `/v1/finance/pay-runs/${id}/payouts`, { key, body: { payouts }, idempotencyKey }).then((r) => r.data),
  reconcile: (api: Api, key: string, query: { from?: string; currency: string }) =>
    api.request<Reconciliation>('reconcile', 'GET', '/v1/finance/reconciliation', { key, query }).then((r) => r.data),
  getFairPayReport: (api: Api, key: string, query: { from: string; to: string; currency: string }) =>
    api.request<FairPay>('getFairPayReport', 'GET', '/v1/reports/fair-pay', { key, query }).then((r) => r.data),
};
