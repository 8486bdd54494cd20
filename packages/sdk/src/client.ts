import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { errorFromResponse, unreachable } from './errors.js';
import type { components, operations, paths } from './generated/openapi.js';
import { importFile, importTasks, type BodyFormat, type ImportOptions, type ImportResult, type ImportSource } from './import.js';
import { runWorker, type WorkerLoopOptions, type WorkerLoopResult } from './worker.js';

export type Schemas = components['schemas'];
export type JobProgress = Schemas['JobProgress'];
export type ExportQuery = NonNullable<operations['exportJobResults']['parameters']['query']>;
export type Api = Client<paths>;

export interface FairlabelOptions {
  /** The gateway, e.g. `http://127.0.0.1:3000` (the CLI reads `FAIRLABEL_URL`). */
  baseUrl: string;
  /** An API key (`fl_…`), sent as `Authorization: Bearer` (the CLI reads `FAIRLABEL_API_KEY`). */
  apiKey?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** A fetch of your own (tests, proxies); defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
}

/**
 * Turns every non-2xx answer into a thrown FairlabelError and every failed connection into one with code
 * `unreachable`, so `api.GET(…)` either resolves with `data` or throws: callers never branch on `error`.
 */
const throwOnError: Middleware = {
  async onResponse({ request, response }) {
    if (!response.ok) throw await errorFromResponse(request.method, request.url, response);
    return undefined;
  },
  onError({ request, error }) {
    return error instanceof Error && error.name === 'FairlabelError' ? error : unreachable(request.method, request.url, error);
  },
};

/**
 * The `data` of an openapi-fetch call, typed from the OpenAPI document. The client's middleware has
 * already thrown for a non-2xx answer, so what is left is the success branch.
 * `const job = await unwrap(fl.api.GET('/v1/jobs/{id}', { params: { path: { id } } }))`
 */
export async function unwrap<R extends { data?: unknown; response: Response }>(call: Promise<R>): Promise<Exclude<R['data'], undefined>> {
  const { data } = await call;
  return data as Exclude<R['data'], undefined>;
}

/** Paths whose GET is a cursor-paged list (`?cursor=&limit=` answering `{ data: [...], next_cursor }`). */
export type PagedPath = {
  [P in keyof paths]: paths[P] extends {
    get: { parameters: { query?: { cursor?: string } }; responses: { 200: { content: { 'application/json': { data: unknown[]; next_cursor: string | null } } } } };
  }
    ? P
    : never;
}[keyof paths];
type PagedOp<P extends PagedPath> = paths[P]['get'];
export type PageOf<P extends PagedPath> = PagedOp<P>['responses'][200]['content']['application/json'];
export type ItemOf<P extends PagedPath> = PageOf<P>['data'][number];
export type PageParams<P extends PagedPath> = {
  query?: Omit<NonNullable<PagedOp<P>['parameters']['query']>, 'cursor'> & { cursor?: string };
} & Omit<PagedOp<P>['parameters'], 'query' | 'header' | 'cookie'>;

export interface RawRequest {
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  body?: RequestInit['body'];
  signal?: AbortSignal;
}

export class Fairlabel {
  /** The typed client (openapi-fetch): every route of the OpenAPI document; non-2xx answers throw FairlabelError. */
  readonly api: Api;
  readonly baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: FairlabelOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#headers = { ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}), ...options.headers };
    this.#fetch = options.fetch ?? globalThis.fetch;
    const fetchImpl = this.#fetch;
    this.api = createClient<paths>({ baseUrl: this.baseUrl, headers: this.#headers, fetch: (request) => fetchImpl(request) });
    this.api.use(throwOnError);
  }

  /**
   * A request outside the JSON conventions openapi-fetch types (a streamed upload, an XML body, a
   * streamed download), with the same auth and the same thrown FairlabelError. Resolves with the response.
   */
  async request(method: string, path: string, init: RawRequest = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(init.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const body = init.body;
    const streamed = body instanceof ReadableStream;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: { ...this.#headers, ...init.headers },
        ...(body === undefined ? {} : { body }),
        // Node's fetch sends a stream only half-duplex; the option is not in lib.dom's RequestInit yet.
        ...(streamed ? ({ duplex: 'half' } as object) : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw unreachable(method, url.href, error);
    }
    if (!response.ok) throw await errorFromResponse(method, url.href, response);
    return response;
  }

  /** Streams a body to `POST /v1/jobs/{id}/tasks` with progress (bytes and rows); see `importTasks`. */
  importTasks(jobId: string, source: ImportSource, options: ImportOptions): Promise<ImportResult> {
    return importTasks(this, jobId, source, options);
  }

  /** Streams a file (.json, .ndjson/.jsonl, .csv) into a job with progress; see `importFile`. */
  importFile(jobId: string, path: string, options: Omit<ImportOptions, 'format' | 'totalBytes'> & { format?: BodyFormat } = {}): Promise<ImportResult> {
    return importFile(this, jobId, path, options);
  }

  /** The worker loop with this client's (worker) key: claim, work, heartbeat, submit; see `runWorker`. */
  work(options: WorkerLoopOptions): Promise<WorkerLoopResult> {
    return runWorker(this, options);
  }

  /**
   * A job's results as a streamed download (`response.body`): jsonl, csv, coco, labelstudio, yolo (a tar)
   * or conll. The memory stays flat for any job size; pipe the body to a file.
   */
  exportResults(jobId: string, query: ExportQuery = {}, signal?: AbortSignal): Promise<Response> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/results`, { query, ...(signal ? { signal } : {}) });
  }

  /**
   * A job's progress, read every `intervalMs` (default 2 s) and yielded when it changed, until the job is
   * completed or cancelled (that last state is yielded too) or `signal` aborts.
   */
  async *watchProgress(jobId: string, options: { intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<JobProgress, void, undefined> {
    let last = '';
    while (!options.signal?.aborted) {
      const data = await unwrap(this.api.GET('/v1/jobs/{id}/progress', { params: { path: { id: jobId } }, ...(options.signal ? { signal: options.signal } : {}) }));
      const seen = JSON.stringify(data);
      if (seen !== last) yield data;
      last = seen;
      if (data.status === 'completed' || data.status === 'cancelled') return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.intervalMs ?? 2000);
        function done() {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        }
        options.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /**
   * Every page of a cursor-paged list, following `next_cursor` until it is null.
   * `for await (const page of fl.pages('/v1/jobs', { query: { status: 'active', limit: 100 } }))`
   */
  async *pages<P extends PagedPath>(path: P, params?: PageParams<P>): AsyncGenerator<PageOf<P>, void, undefined> {
    let cursor = params?.query?.cursor;
    for (;;) {
      const query = { ...params?.query, ...(cursor === undefined ? {} : { cursor }) };
      // One generic call over the union of paged paths: TypeScript cannot relate P to openapi-fetch's
      // per-path overloads, so the call is made untyped and the page typed by PageOf<P>.
      const get = this.api.GET as unknown as (path: string, init: { params: object }) => Promise<{ data: PageOf<P> }>;
      const { data: page } = await get(path, { params: { ...params, query } });
      yield page;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  /**
   * Every item of a cursor-paged list, one page fetched at a time (nothing is fetched ahead).
   * `for await (const job of fl.paginate('/v1/jobs')) console.log(job.name)`
   */
  async *paginate<P extends PagedPath>(path: P, params?: PageParams<P>): AsyncGenerator<ItemOf<P>, void, undefined> {
    for await (const page of this.pages(path, params)) yield* page.data as ItemOf<P>[];
  }
}

export function createFairlabel(options: FairlabelOptions): Fairlabel {
  return new Fairlabel(options);
}
