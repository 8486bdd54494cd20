import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { buildGateway } from '@fairlabel/gateway';
import { OutboxRelay } from '@fairlabel/queues';
import { startTaskDispatchConsumers } from '@fairlabel/task-dispatch/consumers';
import { startWebhookWorkers } from '@fairlabel/task-dispatch/webhooks';
import { integrationTest, type Actor } from '@fairlabel/testing';
import { createWorkerAssignmentConsumer } from '@fairlabel/worker-assignment/consumers';
// qa-sampling exports no consumer entry; its own pipeline test reaches it the same way.
import { createQaConsumer } from '../../../services/qa-sampling/src/qa.consumer.js';
import { main } from '../src/cli/main.js';
import { createFairlabel, unwrap, type Fairlabel } from '../src/index.js';

/**
 * The SDK's tests talk HTTP to the whole gateway, in-process on the file's stack, listening on a free
 * loopback port (`baseUrl`); `sdk(actor)` is a client with that actor's key.
 */
export const test = integrationTest({ app: buildGateway })
  .extend('baseUrl', { scope: 'file' }, async ({ app }) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  })
  .extend('sdk', async ({ baseUrl }) => (actor: Actor): Fairlabel => createFairlabel({ baseUrl, apiKey: actor.key }));

/**
 * The services behind the gateway for the file: the outbox relay and the QA, worker-assignment and
 * task-dispatch consumers, so submitted work is decided and a job whose tasks are all decided completes.
 */
export const pipelineTest = test.extend('pipeline', { scope: 'file' }, async ({ env }, { onCleanup }) => {
  const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
  await relay.start();
  const qa = createQaConsumer(env, env.redis.duplicate(), 8, 5_000);
  const wa = createWorkerAssignmentConsumer(env, env.redis.duplicate(), 5_000);
  const td = await startTaskDispatchConsumers(env);
  onCleanup(async () => {
    await Promise.all([qa.close(), wa.close(), ...td.workers.map((w) => w.close())]);
    await relay.stop();
  });
  return 3 + td.workers.length;
});

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let pathSeq = 0;

/**
 * Real webhook deliveries: an HTTP receiver, the outbox relay and task-dispatch's webhook workers for the
 * file, so what a test verifies is what the service signed and sent. `delivered(client)` registers an
 * endpoint for job.activated on a receiver path of its own, activates a new job of the client through
 * the API, and waits for the delivery to arrive.
 */
export const webhookTest = test
  .extend('receiver', { scope: 'file' }, async ({}, { onCleanup }) => {
    const received: Received[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, at: (path: string) => received.filter((r) => r.path === path) };
  })
  .extend('delivering', { scope: 'file' }, async ({ env }, { onCleanup }) => {
    const relay = new OutboxRelay({ db: env.db, databaseUrl: env.config.DATABASE_URL, redis: env.redis, prefix: env.prefix, logger: env.logger, pollMs: 50 });
    await relay.start();
    const hooks = await startWebhookWorkers(env, { schedule: { attempts: 2, backoffDelayMs: 40, jitter: 0 }, timeoutMs: 2000, progressIntervalMs: 0 });
    onCleanup(async () => {
      await Promise.all(hooks.workers.map((w) => w.close()));
      await hooks.stop?.();
      await relay.stop();
    });
    return hooks.workers.length;
  })
  .extend('delivered', async ({ delivering, receiver, seed, sdk }) => async (client: Actor) => {
    expect(delivering).toBeGreaterThan(0);
    const fl = sdk(client);
    const path = `/hook-${++pathSeq}`;
    const endpoint = await unwrap(fl.api.POST('/v1/webhooks', { body: { url: `${receiver.baseUrl}${path}`, event_types: ['job.activated'] } }));
    const job = await seed.job(client);
    await seed.tasks(job.id, 1);
    await unwrap(fl.api.POST('/v1/jobs/{id}/activate', { params: { path: { id: job.id } } }));
    await expect.poll(() => receiver.at(path).length, { timeout: 15_000 }).toBe(1);
    return { endpoint, job, path, message: receiver.at(path)[0]! };
  });

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const bin = fileURLToPath(new URL('../bin/fairlabel.mjs', import.meta.url));

/**
 * The client CLI as a user runs it: the package's `fairlabel` bin in a child process, against the
 * in-process gateway, with FAIRLABEL_URL and (for `actor`) FAIRLABEL_API_KEY in its environment.
 * `cli(actor, args)` runs to the end; `cli.start(actor, args)` hands back the running process.
 */
export const cliTest = webhookTest.extend('cli', async ({ baseUrl }, { onCleanup }) => {
  const envFor = (actor: Actor | null, extra: Record<string, string> = {}) => {
    const env: Record<string, string | undefined> = { ...process.env, FAIRLABEL_URL: baseUrl, FAIRLABEL_API_KEY: actor?.key, ...extra };
    if (!actor) delete env.FAIRLABEL_API_KEY;
    return env;
  };
  const started: ChildProcess[] = [];
  onCleanup(() => {
    for (const child of started) if (child.exitCode === null) child.kill();
  });
  const run = (actor: Actor | null, args: string[], extra?: Record<string, string>): Promise<CliRun> =>
    new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { env: envFor(actor, extra), maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      });
    });
  const start = (actor: Actor, args: string[]) => {
    const child = spawn(process.execPath, [bin, ...args], { env: envFor(actor), stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { child, output: () => stdout, exited };
  };
  /** The same command line run in this process (main() with its output captured): cheaper, for the many refusals. */
  const inProcess = async (actor: Actor | null, args: string[], extra: Record<string, string> = {}): Promise<CliRun> => {
    let stdout = '';
    let stderr = '';
    const stream = new PassThrough().on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await main(args, {
      out: (line) => (stdout += line + '\n'),
      err: (text) => (stderr += text),
      tty: false,
      env: { FAIRLABEL_URL: baseUrl, ...(actor ? { FAIRLABEL_API_KEY: actor.key } : {}), ...extra },
      stdout: stream,
    });
    return { code, stdout, stderr };
  };
  return Object.assign(run, { start, inProcess });
});
