import { Fairlabel, FairlabelError, type paths, type Schemas } from '@fairlabel/sdk';

// Every HTTP call of the demonstration goes through @fairlabel/sdk, typed against the gateway's
// OpenAPI document: one client per API key (each user holds their own), one function per operation
// (named by its operationId). The two bodies the document cannot type (the NDJSON import and the
// JSONL export, streamed) use the SDK's raw request with the same auth and errors. A non-2xx answer
// throws the SDK's FairlabelError with the API's error code.

export { FairlabelError as ApiError };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Api {
  /** Requests made (retries included), for the summary. */
  requests = 0;
  /** Requests answered 503 or 429 and retried. */
  retries = 0;
  private readonly clients = new Map<string, Fairlabel>();
  private readonly counting: typeof fetch;

  constructor(readonly base: string) {
    // As a careful client does: a 503 (database unavailable) or 429 is retried after its Retry-After
    // (at most 5 s, 8 attempts), and so is a connection that failed. Every operation the demo retries
    // is safe to repeat: reads, claims refused before they commit, submits (idempotent), and POSTs
    // that create money carry an Idempotency-Key.
    this.counting = async (input, init) => {
      for (let attempt = 1; ; attempt++) {
        this.requests++;
        const request = input instanceof Request ? input.clone() : input;
        let response: Response;
        try {
          response = await fetch(request, init);
        } catch (err) {
          if (attempt >= 8) throw err;
          await sleep(250 * attempt);
          continue;
        }
        if ((response.status !== 503 && response.status !== 429) || attempt >= 8) return response;
        const after = Number(response.headers.get('retry-after'));
        await response.body?.cancel();
        this.retries++;
        await sleep(Math.min(5000, Number.isFinite(after) && after > 0 ? after * 1000 : 500 * attempt));
      }
    };
  }

  /** The SDK client of one API key. */
  as(key: string): Fairlabel {
    let client = this.clients.get(key);
    if (!client) this.clients.set(key, (client = new Fairlabel({ baseUrl: this.base, apiKey: key, fetch: this.counting })));
    return client;
  }
}

export type Organization = Schemas['Organization'];
export type Job = Schemas['Job'];
export type Assignment = Schemas['Assignment'];
export type Progress = Schemas['JobProgress'];
export type PayRun = Schemas['PayRun'];
export type Statement = Schemas['Statement'];
export type Reconciliation = Schemas['Reconciliation'];
export type FairPay = Schemas['FairPayReport'];
/** The JSON body of an operation, from the OpenAPI document. */
export type JsonBody<P extends keyof paths, M extends 'post' | 'put'> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
export type CreateJob = JsonBody<'/v1/jobs', 'post'>;

/** One task of the JSONL results export with `include=annotations`. */
export interface ExportedTask {
  task_id: number;
  external_id: string;
  status: string;
  result: unknown;
  agreement: number | null;
  gold: unknown;
  annotations?: { assignment_id: number; worker_id: string; status: string; answer: unknown }[];
}

const id = (v: string) => ({ params: { path: { id: v } } });

export const ops = {
  whoami: async (api: Api, key: string) => (await api.as(key).api.GET('/v1/auth/whoami')).data!,
  createOrganization: async (api: Api, key: string, body: { name: string; kind: 'client' | 'vendor' }) => (await api.as(key).api.POST('/v1/organizations', { body })).data!,
  createApiKey: async (api: Api, key: string, orgId: string, body: { role: 'client' | 'vendor' | 'ops' | 'finance' | 'admin'; name: string }) =>
    (await api.as(key).api.POST('/v1/organizations/{id}/api-keys', { ...id(orgId), body })).data!.key,
  createWorker: async (api: Api, key: string, body: JsonBody<'/v1/workers', 'post'>) =>
    (await api.as(key).api.POST('/v1/workers', { body })).data!,
  getWorker: async (api: Api, key: string, workerId: string) => (await api.as(key).api.GET('/v1/workers/{id}', id(workerId))).data!,
  setWorkerSkill: async (api: Api, key: string, workerId: string, skill: string, body: { level: number; reason?: string }) =>
    (await api.as(key).api.PUT('/v1/workers/{id}/skills/{skill}', { params: { path: { id: workerId, skill } }, body })).data!,
  createWorkerApiKey: async (api: Api, key: string, workerId: string) => (await api.as(key).api.POST('/v1/workers/{id}/api-keys', { ...id(workerId), body: { name: 'demo' } })).data!.key,
  createJob: async (api: Api, key: string, body: CreateJob) => (await api.as(key).api.POST('/v1/jobs', { body })).data!,
  importTasks: async (api: Api, key: string, jobId: string, ndjson: string): Promise<Schemas['ImportResult']> => {
    const res = await api.as(key).request('POST', `/v1/jobs/${encodeURIComponent(jobId)}/tasks`, { body: ndjson, query: { format: 'ndjson' }, headers: { 'content-type': 'application/x-ndjson' } });
    return (await res.json()) as Schemas['ImportResult'];
  },
  activateJob: async (api: Api, key: string, jobId: string) => (await api.as(key).api.POST('/v1/jobs/{id}/activate', id(jobId))).data!,
  getJob: async (api: Api, key: string, jobId: string) => (await api.as(key).api.GET('/v1/jobs/{id}', id(jobId))).data!,
  getJobProgress: async (api: Api, key: string, jobId: string) => (await api.as(key).api.GET('/v1/jobs/{id}/progress', id(jobId))).data!,
  exportJobResults: async (api: Api, key: string, jobId: string): Promise<ExportedTask[]> => {
    const res = await api.as(key).request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results`, { query: { format: 'jsonl', include: 'annotations' } });
    return (await res.text())
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as ExportedTask);
  },
  createWebhookEndpoint: async (api: Api, key: string, body: JsonBody<'/v1/webhooks', 'post'>) => (await api.as(key).api.POST('/v1/webhooks', { body })).data!,

  /** A worker's claim (long-polls up to `wait` seconds); null when nothing is eligible (204). */
  claimNextAssignment: async (api: Api, key: string, wait: number): Promise<Assignment | null> => {
    const { data, response } = await api.as(key).api.POST('/v1/assignments/next', { params: { query: { wait } } });
    return response.status === 204 ? null : (data ?? null);
  },
  heartbeatAssignment: async (api: Api, key: string, assignmentId: number) => (await api.as(key).api.POST('/v1/assignments/{id}/heartbeat', id(String(assignmentId)))).data!,
  releaseAssignment: async (api: Api, key: string, assignmentId: number, reason: 'skip' | 'unclear_instructions' | 'other', note?: string) =>
    (await api.as(key).api.POST('/v1/assignments/{id}/release', { ...id(String(assignmentId)), body: note ? { reason, note } : { reason } })).data!,
  submitAssignment: async (api: Api, key: string, assignmentId: number, body: { answer: unknown; time_spent_ms: number }) =>
    (await api.as(key).api.POST('/v1/assignments/{id}/submit', { ...id(String(assignmentId)), body })).data!,
  /** A worker appeals the rejection of their assignment (qa-sampling). */
  appealAssignment: async (api: Api, key: string, assignmentId: number, reason: string) =>
    (await api.as(key).api.POST('/v1/assignments/{id}/appeal', { ...id(String(assignmentId)), body: { reason } })).data!,
  /** The pending appeals a worker may decide (of workers below their level in the job's skill). */
  listAppealsToDecide: async (api: Api, key: string) => (await api.as(key).api.GET('/v1/appeals', { params: { query: { limit: 100 } } })).data!.data,
  /** A worker of a higher level upholds or denies an appeal. */
  decideAppeal: async (api: Api, key: string, appealId: number, body: { outcome: 'upheld' | 'denied'; comment: string }) =>
    (await api.as(key).api.POST('/v1/appeals/{id}/decide', { ...id(String(appealId)), body })).data!,

  setVendorContract: async (api: Api, key: string, vendorId: string, body: { effective_from: string; commission_bp: number }) =>
    (await api.as(key).api.POST('/v1/finance/vendors/{vendor_id}/contract', { params: { path: { vendor_id: vendorId } }, body })).data!,
  setFloorPolicy: async (api: Api, key: string, body: { client_id: string | null; mode: 'top_up' | 'report' | 'off'; funded_by: 'client' | 'platform' }) =>
    (await api.as(key).api.PUT('/v1/finance/floor-policies', { body })).data!,
  createFxRate: async (api: Api, key: string, body: { base: string; quote: string; effective_from: string; rate: string; source: string }) =>
    (await api.as(key).api.POST('/v1/finance/fx-rates', { body })).data!,
  listPayRuns: async (api: Api, key: string, currency: string) => (await api.as(key).api.GET('/v1/finance/pay-runs', { params: { query: { currency, limit: 1 } } })).data!.data,
  createPayRun: async (api: Api, key: string, body: { currency: string; period_start: string; period_end: string; minimum_payout: number }, idempotencyKey: string) =>
    (await api.as(key).api.POST('/v1/finance/pay-runs', { body, headers: { 'idempotency-key': idempotencyKey } })).data!,
  getPayRun: async (api: Api, key: string, runId: number) => (await api.as(key).api.GET('/v1/finance/pay-runs/{id}', id(String(runId)))).data!,
  approvePayRun: async (api: Api, key: string, runId: number) => (await api.as(key).api.POST('/v1/finance/pay-runs/{id}/approve', id(String(runId)))).data!,
  listPayRunStatements: async (api: Api, key: string, runId: number): Promise<Statement[]> => {
    const all: Statement[] = [];
    let cursor: string | undefined;
    do {
      const page = (await api.as(key).api.GET('/v1/finance/pay-runs/{id}/statements', { params: { path: { id: String(runId) }, query: { limit: 500, ...(cursor ? { cursor } : {}) } } })).data!;
      const statements = page as unknown as { data: Statement[]; next_cursor: string | null };
      all.push(...statements.data);
      cursor = statements.next_cursor ?? undefined;
    } while (cursor);
    return all;
  },
  recordPayouts: async (api: Api, key: string, runId: number, payouts: { statement_id: number; reference: string }[], idempotencyKey: string) =>
    (await api.as(key).api.POST('/v1/finance/pay-runs/{id}/payouts', { ...id(String(runId)), body: { payouts }, headers: { 'idempotency-key': idempotencyKey } })).data!,
  reconcile: async (api: Api, key: string, query: { from?: string; currency: string }) => (await api.as(key).api.GET('/v1/finance/reconciliation', { params: { query } })).data!,
  getFairPayReport: async (api: Api, key: string, query: { from: string; to: string; currency: string }) =>
    (await api.as(key).api.GET('/v1/reports/fair-pay', { params: { query: { ...query, format: 'json' } } })).data! as FairPay,
};
