import type { Config } from '@fairlabel/config';
import { sql, type ApiKeyRole, type Db, type JobsTable, type WorkersTable } from '@fairlabel/db';
import { dbTest, proxyFor, type TcpProxy } from '@fairlabel/db/testing';
import type { AppInstance, RoutePlugin } from '@fairlabel/http';
import { outboxMark } from '@fairlabel/queues/testing';
import { createDeps, type Deps } from '@fairlabel/runtime';
import type { Insertable } from 'kysely';
import { buildTestApp } from './app.js';
import { stackOn, type TestEnv } from './env.js';
import { newAnswers, newApiKey, newJob, newOrganization, newPlatformKey, newTasks, newWorker, type Actor, type WorkerActor } from './factories.js';

type JobOptions = Partial<Insertable<JobsTable>>;
type WorkerOptions = Partial<Insertable<WorkersTable>> & { skills?: Record<string, number> };
type TaskOptions = Parameters<typeof newTasks>[3];

export type JobRow = Awaited<ReturnType<typeof newJob>>;
export type TaskRow = Awaited<ReturnType<typeof newTasks>>[number];
/** A job with its tasks and the client that owns it. */
export type SeededJob = JobRow & { tasks: TaskRow[]; owner: Actor };

/**
 * The factories of one test. Everything a test owns hangs off the organizations made here, so when
 * the test ends `retire()` can take what it left in flight out of the file's shared database: its
 * active jobs are paused (no later claim can pick them) and its live leases released (no later
 * expiry sweep counts them); the outbox rows it wrote are deleted (a relay or reconciler started by a
 * later test would publish them again). Each test therefore starts with nothing claimable, expiring or
 * unpublished but what it makes itself, whatever the tests before it did or how they ended.
 */
export class Seed {
  private readonly clients = new Set<string>();
  private readonly vendors = new Set<string>();

  constructor(private readonly db: Db) {}

  async client(name?: string): Promise<Actor> {
    const org = await newOrganization(this.db, 'client', name);
    this.clients.add(org.id);
    return newApiKey(this.db, org.id, 'client');
  }

  async vendor(name?: string): Promise<Actor> {
    const org = await newOrganization(this.db, 'vendor', name);
    this.vendors.add(org.id);
    return newApiKey(this.db, org.id, 'vendor');
  }

  /** A worker of `vendor` (made by this seed: the actor or its organization id) with a worker key; `skills` maps skill to level. */
  async worker(vendor: Actor | string, opts: WorkerOptions = {}): Promise<WorkerActor> {
    const vendorId = typeof vendor === 'string' ? vendor : vendor.organizationId;
    if (!this.vendors.has(vendorId)) throw new Error('seed.worker: make the vendor with the same seed');
    return newWorker(this.db, vendorId, opts);
  }

  async vendorWithWorker(opts: WorkerOptions = {}): Promise<{ vendor: Actor; worker: WorkerActor }> {
    const vendor = await this.vendor();
    return { vendor, worker: await this.worker(vendor, opts) };
  }

  /** A key of the file's platform organization (one per database, as in production). */
  platformKey(role: Extract<ApiKeyRole, 'admin' | 'ops' | 'finance'>): Promise<Actor> {
    return newPlatformKey(this.db, role);
  }

  /** A draft job of `client` (a classification job unless `opts` says otherwise). */
  job(client: Actor, opts: JobOptions = {}): Promise<JobRow> {
    if (!this.clients.has(client.organizationId)) throw new Error('seed.job: make the client with the same seed');
    return newJob(this.db, client.organizationId, opts);
  }

  /** `count` open tasks of a job, `external_id` item-0, item-1, …; `required_annotations` is the job's overlap. */
  tasks(jobId: string, count: number, opts: TaskOptions = {}): Promise<TaskRow[]> {
    return newTasks(this.db, jobId, count, opts);
  }

  /** One answer by `worker` on each task, as if submitted (and decided, unless `status` is 'submitted'). */
  answers(tasks: { id: number; job_id: string }[], worker: WorkerActor, opts: Parameters<typeof newAnswers>[3] = {}) {
    return newAnswers(this.db, tasks, worker, opts);
  }

  /** An active job with `tasks` open tasks, of `opts.owner` or of a new client. */
  async activeJob(tasks: number, opts: JobOptions & { owner?: Actor } = {}): Promise<SeededJob> {
    const { owner: given, ...columns } = opts;
    const owner = given ?? (await this.client());
    const job = await this.job(owner, { status: 'active', ...columns });
    return { ...job, tasks: await this.tasks(job.id, tasks), owner };
  }

  /**
   * Takes this test's work out of play (see the class comment) and, in the same statement, deletes the
   * outbox rows written since `outboxMark`.
   */
  async retire(outboxMark: number): Promise<void> {
    await sql`
      WITH paused AS (
        UPDATE jobs SET status = 'paused' WHERE status = 'active' AND client_id = ANY(${[...this.clients]}::uuid[]) RETURNING 1
      ), released AS (
        UPDATE assignments SET status = 'released', release_reason = 'test ended', ended_at = coalesce(ended_at, now())
        WHERE status = 'leased' AND vendor_id = ANY(${[...this.vendors]}::uuid[]) RETURNING 1
      )
      DELETE FROM outbox WHERE id > ${outboxMark}
    `.execute(this.db);
  }
}

export interface IntegrationOptions {
  /**
   * What `app` serves: route plugins on the shared HTTP stack (auth, errors, rate limits, docs), or a
   * function that builds a whole app on the stack (the gateway: `buildGateway`).
   */
  app?: RoutePlugin[] | ((env: TestEnv) => Promise<AppInstance>);
  /** Settings of this file's stack other than the defaults (a small body limit, say). */
  config?: Partial<Config>;
}

/**
 * The fixture of service tests. Per file (built on first use, closed after the last test): the
 * database (`database`, cloned from the migrated template), the service stack on it (`env`: db, pool,
 * redis, a Redis prefix, logger, a TestClock) and the HTTP app (`app`). Per test: `seed`, the
 * factories, and the actors and job a test names — each test gets new ones:
 *
 *   const test = integrationTest({ app: [workerAssignmentRoutes] });
 *   test('a worker claims the task', async ({ app, worker, job }) => { … });
 *
 * `client`, `vendor` and `worker` (a worker of `vendor`) are new organizations and keys; `admin`,
 * `ops` and `finance` are keys of the platform organization; `job` is an active classification job of
 * `client` with one open task. Anything else comes from `seed`. When a test ends, `seed.retire()`
 * takes its active jobs and live leases out of play and the outbox rows it wrote are deleted (a relay
 * or reconciler would publish them into a later test), so no test sees another's leftovers.
 */
export function integrationTest(options: IntegrationOptions = {}) {
  return dbTest
    .extend('env', { scope: 'file' }, async ({ database }, { onCleanup }): Promise<TestEnv> => {
      const env = stackOn(database, options.config);
      onCleanup(() => env.close());
      return env;
    })
    .extend('app', { scope: 'file' }, async ({ env }, { onCleanup }): Promise<AppInstance> => {
      const { app: make = [] } = options;
      const app = typeof make === 'function' ? await make(env) : await buildTestApp(env, make);
      await app.ready();
      onCleanup(() => app.close());
      return app;
    })
    /** A TCP proxy in front of the file's Postgres, for outage tests: `cut()` drops every connection, `restore()` lets them in again. */
    .extend('proxy', { scope: 'file' }, async ({ env }, { onCleanup }): Promise<TcpProxy> => {
      const proxy = await proxyFor(env.config.DATABASE_URL);
      onCleanup(() => proxy.cut());
      return proxy;
    })
    /** The file's stack (same database, Redis prefix and clock) reaching Postgres through `proxy`. */
    .extend('proxiedEnv', { scope: 'file' }, async ({ env, proxy }, { onCleanup }): Promise<Deps> => {
      const deps = createDeps({ ...env.config, DATABASE_URL: proxy.rewrite(env.config.DATABASE_URL) }, 'test', { logger: env.logger, clock: env.clock });
      onCleanup(() => deps.close());
      return deps;
    })
    .extend('seed', { auto: true }, async ({ env }, { onCleanup }): Promise<Seed> => {
      const seed = new Seed(env.db);
      const mark = await outboxMark(env.db);
      onCleanup(() => seed.retire(mark));
      return seed;
    })
    .extend('client', async ({ seed }) => seed.client())
    .extend('vendor', async ({ seed }) => seed.vendor())
    .extend('worker', async ({ seed, vendor }) => seed.worker(vendor))
    .extend('admin', async ({ seed }) => seed.platformKey('admin'))
    .extend('ops', async ({ seed }) => seed.platformKey('ops'))
    .extend('finance', async ({ seed }) => seed.platformKey('finance'))
    .extend('job', async ({ seed, client }) => seed.activeJob(1, { owner: client }));
}
