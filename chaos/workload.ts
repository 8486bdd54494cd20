import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDb, createPool } from '@fairlabel/db';
import { issueApiKey } from '../services/gateway/src/api-keys.service.js';
import { createOrganization } from '../services/gateway/src/organizations.service.js';

// The simulated users of the fault suite: a client with a job, vendors' workers claiming and
// submitting over HTTP, a probe that measures availability, and a webhook receiver. They go through
// the public API only (except the first admin key, issued the way `pnpm fairlabel bootstrap` does).

export type Rng = () => number;
/** A small seeded generator (mulberry32), so a run can be repeated with CHAOS_SEED. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CallResult {
  status: number;
  body: unknown;
  headers: Headers | null;
}

/** Tallies of every answer the simulated users got, by status (0: no HTTP answer at all). */
export class Outcomes {
  readonly byStatus = new Map<number, number>();
  readonly fiveHundreds: string[] = [];
  note(status: number, what: string, body?: unknown) {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    if (status >= 500 && status !== 503) this.fiveHundreds.push(`${what} -> ${status} ${JSON.stringify(body)}`.slice(0, 300));
  }
}

export class Api {
  constructor(
    readonly base: string,
    readonly outcomes: Outcomes,
  ) {}

  /** One request; a refused connection or a timeout is status 0. */
  async once(key: string, method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 10_000): Promise<CallResult> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      this.outcomes.note(res.status, `${method} ${path}`, parsed);
      return { status: res.status, body: parsed, headers: res.headers };
    } catch {
      this.outcomes.note(0, `${method} ${path}`);
      return { status: 0, body: null, headers: null };
    }
  }

  /**
   * A request retried through outages the way a well-behaved client does: on no answer or a 503 it
   * waits (Retry-After, capped, so the suite measures recovery rather than the hint) and tries again.
   */
  async call(key: string, method: string, path: string, body?: unknown, opts: { until?: () => boolean; contentType?: string } = {}): Promise<CallResult> {
    for (;;) {
      const r = await this.once(key, method, path, body, opts.contentType);
      if (r.status !== 0 && r.status !== 503 && r.status !== 502) return r;
      if (opts.until?.()) return r;
      const hinted = Number(r.headers?.get('retry-after') ?? 0) * 1000;
      await sleep(Math.min(hinted || 250, 500));
    }
  }

  /** For seeding: anything but a 2xx is a failure of the suite. */
  async ok<T>(key: string, method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.call(key, method, path, body, contentType ? { contentType } : {});
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  }
}

/** Receives webhooks and counts each `webhook-id` it is sent. */
export class Receiver {
  readonly received = new Map<string, number>();
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const id = String(req.headers['webhook-id'] ?? 'none');
        this.received.set(id, (this.received.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface Seeded {
  jobId: string;
  clientKey: string;
  workerKeys: string[];
  labels: string[];
}

export async function issueAdminKey(databaseUrl: string): Promise<string> {
  const db = createDb(createPool(databaseUrl, 2));
  try {
    const platform = await db.selectFrom('organizations').select('id').where('kind', '=', 'platform').executeTakeFirst();
    const orgId = platform?.id ?? (await createOrganization(db, { name: 'platform', kind: 'platform' })).id;
    return (await issueApiKey(db, { organizationId: orgId, role: 'admin', name: 'fault suite' })).key;
  } finally {
    await db.destroy();
  }
}

/** A client with one active job of `tasks` items (overlap 3), two vendors with `workers` workers, webhook endpoints for both. */
export async function seed(api: Api, admin: string, receiverUrl: string, opts: { workers: number; tasks: number }): Promise<Seeded> {
  const client = await api.ok<{ id: string }>(admin, 'POST', '/v1/organizations', { name: 'Chaos Client', kind: 'client' });
  const clientKey = (await api.ok<{ key: string }>(admin, 'POST', `/v1/organizations/${client.id}/api-keys`, { role: 'client', name: 'chaos' })).key;
  await api.ok(clientKey, 'POST', '/v1/webhooks', { url: `${receiverUrl}/client`, event_types: ['job.activated', 'tasks.imported', 'job.completed'] });
  const workerKeys: string[] = [];
  for (let v = 0; v < 2; v++) {
    const org = await api.ok<{ id: string }>(admin, 'POST', '/v1/organizations', { name: `Chaos Vendor ${v}`, kind: 'vendor' });
    const vendorKey = (await api.ok<{ key: string }>(admin, 'POST', `/v1/organizations/${org.id}/api-keys`, { role: 'vendor', name: 'chaos' })).key;
    // Every submission, expiry and release becomes a signed delivery to the vendor.
    await api.ok(vendorKey, 'POST', '/v1/webhooks', { url: `${receiverUrl}/vendor-${v}`, event_types: ['assignment.submitted', 'assignment.expired', 'assignment.released'] });
    const count = Math.ceil(opts.workers / 2) - (v === 1 && opts.workers % 2 ? 1 : 0);
    for (let w = 0; w < count; w++) {
      const worker = await api.ok<{ id: string }>(vendorKey, 'POST', '/v1/workers', {
        display_name: `chaos-${v}-${w}`,
        region: { country: 'IN', province: 'KA', city_tier: 1 + (w % 5), area: w % 2 ? 'rural' : 'urban' },
        timezone: 'Asia/Kolkata',
      });
      await api.ok(vendorKey, 'PUT', `/v1/workers/${worker.id}/skills/image_classification`, { level: 2 });
      workerKeys.push((await api.ok<{ key: string }>(vendorKey, 'POST', `/v1/workers/${worker.id}/api-keys`, { name: 'chaos' })).key);
    }
  }
  // A Label Studio config with one Choices control, `animal`; answers are keyed by control name.
  const labels = ['cat', 'dog', 'bird', 'other'];
  const labelConfigXml = `<View>
  <Image name="photo" value="$image"/>
  <Choices name="animal" toName="photo" required="true">
${labels.map((l) => `    <Choice value="${l}"/>`).join('\n')}
  </Choices>
</View>`;
  const job = await api.ok<{ id: string }>(clientKey, 'POST', '/v1/jobs', {
    name: 'Chaos photos',
    label_config: labelConfigXml,
    label_config_format: 'labelstudio',
    instructions: 'Which animal is in the photo?',
    required_skill: 'image_classification',
    min_level: 1,
    overlap: 3,
    pay_per_annotation: 4,
    client_price_per_item: 25,
    currency: 'USD',
    // The shortest lease the API allows, so abandoned leases expire within the run.
    lease_seconds: 30,
  });
  const items = Array.from({ length: opts.tasks }, (_, i) => JSON.stringify({ external_id: `photo-${i}`, data: { image: `https://example.org/${i}.jpg` } })).join('\n');
  await api.ok(clientKey, 'POST', `/v1/jobs/${job.id}/tasks`, items, 'application/x-ndjson');
  await api.ok(clientKey, 'POST', `/v1/jobs/${job.id}/activate`, {});
  return { jobId: job.id, clientKey, workerKeys, labels };
}

export interface Submitted {
  assignmentId: number;
  answer: unknown;
}

/** Workers that claim and submit until stopped; a few abandon their lease or release it. */
export class Workers {
  readonly submitted: Submitted[] = [];
  claims = 0;
  abandoned = 0;
  released = 0;
  refusedSubmits = new Map<string, number>();
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly api: Api,
    private readonly seeded: Seeded,
    private readonly rng: Rng,
  ) {}

  start(): void {
    this.loops = this.seeded.workerKeys.map((key) => this.loop(key));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(key: string): Promise<void> {
    const until = () => this.stopped;
    while (!this.stopped) {
      const claim = await this.api.call(key, 'POST', '/v1/assignments/next', undefined, { until });
      if (this.stopped) return;
      if (claim.status === 204) {
        await sleep(500);
        continue;
      }
      if (claim.status !== 200) {
        await sleep(200);
        continue;
      }
      this.claims++;
      const a = claim.body as { id: number };
      const roll = this.rng();
      if (roll < 0.03) {
        this.abandoned++;
        continue;
      }
      if (roll < 0.05) {
        const r = await this.api.call(key, 'POST', `/v1/assignments/${a.id}/release`, { reason: 'skip' }, { until });
        if (r.status === 200) this.released++;
        continue;
      }
      await sleep(20 + Math.floor(this.rng() * 80));
      const answer = { animal: { choices: [this.seeded.labels[Math.floor(this.rng() * this.seeded.labels.length)]] } };
      // Retried through outages: a submit whose answer was lost with a dying gateway is replayed, and
      // the API answers the replay with the first result.
      const r = await this.api.call(key, 'POST', `/v1/assignments/${a.id}/submit`, { answer, time_spent_ms: 3000 + Math.floor(this.rng() * 5000) }, { until: () => false });
      if (r.status >= 200 && r.status < 300) this.submitted.push({ assignmentId: a.id, answer });
      else {
        const code = (r.body as { error?: { code?: string } } | null)?.error?.code ?? String(r.status);
        this.refusedSubmits.set(code, (this.refusedSubmits.get(code) ?? 0) + 1);
      }
    }
  }
}

/** Asks a cheap authenticated question that needs Postgres every `everyMs`, and keeps the answers. */
export class Probe {
  /** When each answer (or failure) came back, and whether it was a 200. */
  readonly samples: { at: number; ok: boolean }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;

  constructor(
    private readonly api: Api,
    private readonly key: string,
    private readonly path: string,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = true;
      // Api.once never rejects: every failure is an answer with status 0.
      void this.api
        .once(this.key, 'GET', this.path, undefined, 'application/json', 2000)
        .then((r) => this.samples.push({ at: Date.now(), ok: r.status === 200 }))
        .finally(() => {
          this.inFlight = false;
        });
    }, this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Periods in which the API did not answer: from a failing probe until the next successful one. */
  outages(until: number): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    let failingSince: number | null = null;
    for (const s of this.samples) {
      if (!s.ok && failingSince === null) failingSince = s.at;
      if (s.ok && failingSince !== null) {
        out.push({ start: failingSince, end: s.at });
        failingSince = null;
      }
    }
    if (failingSince !== null) out.push({ start: failingSince, end: until });
    return out;
  }

  /** When the API first answered again at or after `from` (null if never). */
  firstOkAfter(from: number): number | null {
    return this.samples.find((s) => s.at >= from && s.ok)?.at ?? null;
  }
}
