import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

// Private servers for the fault suite: a Postgres cluster initialised into a temporary directory and a
// redis-server, each on its own port, started and removed by the suite. The suite restarts and
// flushes these, never the shared servers of the machine.

export const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Postgres refuses to run as root: when we are root, its processes run as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function chownTree(dir: string, uid: number, gid: number) {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir)) {
    const p = path.join(dir, entry);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

class Fatal extends Error {}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const start = Date.now();
  while (
    !(await check().catch((err: unknown) => {
      if (err instanceof Fatal) throw err;
      return false;
    }))
  ) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
}

export class PrivatePostgres {
  private proc: ChildProcess | null = null;
  private readonly user = postgresUser();
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    if (!existsSync(path.join(PG_BIN, 'initdb'))) {
      throw new Error(`the fault suite starts a private PostgreSQL cluster and needs the server binaries in ${PG_BIN} (initdb, postgres); set CHAOS_PG_BIN to their folder`);
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fairlabel-chaos-pg-'));
    const server = new PrivatePostgres(dir, await freePort());
    if (server.user) chownTree(dir, server.user.uid, server.user.gid);
    execFileSync(path.join(PG_BIN, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(server.user ?? {}),
    });
    return server;
  }

  url(database = 'fairlabel'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      path.join(PG_BIN, 'postgres'),
      [
        '-D', path.join(this.dir, 'data'),
        '-p', String(this.port),
        '-k', this.dir,
        '-c', 'listen_addresses=127.0.0.1',
        // A throwaway cluster: durability settings off, room for every process's pool.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=300',
        '-c', 'shared_buffers=64MB',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], ...(this.user ?? {}) },
    );
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    });
    this.proc.on('error', (err) => {
      this.log += `\ncould not run postgres: ${err.message}`;
    });
    await waitFor(
      `private Postgres on port ${this.port}`,
      async () => {
        const c = new pg.Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1000 });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.log}`);
    });
  }

  /** A fast shutdown (SIGINT): open connections are terminated, as in a real restart. */
  stop(): Promise<void> {
    return this.halt('SIGINT');
  }

  /**
   * An immediate shutdown (SIGQUIT): every process exits without a checkpoint or writing what is in its
   * buffers, so the next start runs crash recovery (which also empties unlogged tables), as after a crash.
   */
  crash(): Promise<void> {
    return this.halt('SIGQUIT');
  }

  private async halt(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc) return;
    proc.kill(signal);
    await exited(proc);
  }

  /** The server's log so far (the last 4,000 characters). */
  recentLog(): string {
    return this.log;
  }

  async destroy(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc) {
      proc.kill('SIGKILL');
      await exited(proc);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PrivateRedis {
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'fairlabel-chaos-redis-'));

  private constructor(readonly port: number) {}

  static async create(): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', this.dir],
      { stdio: 'ignore' },
    );
    let spawnError: Error | null = null;
    this.proc.on('error', (err) => (spawnError = err));
    await waitFor(
      `private Redis on port ${this.port}`,
      async () => {
        if (spawnError) throw new Fatal(`the fault suite starts a private redis-server and could not run it: ${(spawnError as Error).message}`);
        return (await this.command((r) => r.ping())) === 'PONG';
      },
      15_000,
    );
  }

  /** FLUSHALL on this private server only. */
  async flushAll(): Promise<void> {
    await this.command((r) => r.flushall());
  }

  async command<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  async destroy(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc) {
      proc.kill('SIGKILL');
      await exited(proc);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
