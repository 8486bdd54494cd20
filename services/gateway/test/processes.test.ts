import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '@fairlabel/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env.close();
});

function childEnv(extra: Record<string, string> = {}) {
  return { ...process.env, DATABASE_URL: env.config.DATABASE_URL, REDIS_PREFIX: env.prefix, LOG_LEVEL: 'warn', ...extra };
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/gateway/src/cli.ts', ...args], { cwd: root, env: childEnv(), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('pnpm fairlabel (operator CLI)', () => {
  it('bootstrap prints the first admin key on its last line, refuses a second run, and --new-key issues another', async () => {
    const first = cli(['bootstrap']);
    expect(first.code, first.stderr).toBe(0);
    const key = first.stdout.split('\n').at(-1)!;
    expect(key).toMatch(/^fl_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const row = await env.db
      .selectFrom('api_keys as k')
      .innerJoin('organizations as o', 'o.id', 'k.organization_id')
      .select(['k.role', 'o.kind'])
      .where('k.prefix', '=', key.split('_')[1]!)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ role: 'admin', kind: 'platform' });

    const again = cli(['bootstrap']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already.*--new-key/);

    const extra = cli(['bootstrap', '--new-key']);
    expect(extra.code).toBe(0);
    const second = extra.stdout.split('\n').at(-1)!;
    expect(second).toMatch(/^fl_/);
    expect(second).not.toBe(key);
    const platforms = await env.db.selectFrom('organizations').select('id').where('kind', '=', 'platform').execute();
    expect(platforms.length).toBe(1);
  }, 60_000);

  it('creates organizations and keys, and explains bad arguments', async () => {
    const org = cli(['create-org', '--kind', 'vendor', '--name', 'Village Labels']);
    expect(org.code).toBe(0);
    const key = cli(['create-key', '--org', org.stdout, '--role', 'vendor']);
    expect(key.code).toBe(0);
    expect(key.stdout.split('\n').at(-1)).toMatch(/^fl_/);
    const wrongRole = cli(['create-key', '--org', org.stdout, '--role', 'admin']);
    expect(wrongRole.code).toBe(1);
    expect(wrongRole.stderr).toMatch(/role_not_allowed/);
    const badKind = cli(['create-org', '--kind', 'platform', '--name', 'x']);
    expect(badKind.code).toBe(1);
    expect(badKind.stderr).toMatch(/--kind/);
  }, 60_000);
});

describe('pnpm start (supervisor)', () => {
  it('runs every process, serves /readyz, restarts a process that dies while the rest keep serving, and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: root, env: childEnv({ PORT: String(port), LOG_LEVEL: 'info' }) });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
    const deadline = Date.now() + 60_000;
    while (!output.includes('fairlabel is up')) {
      if (Date.now() > deadline || exitCode !== undefined) throw new Error(`stack did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    // Each process logs once it is running (the gateway: where its docs are).
    for (const line of ['API docs at', 'outbox relay started', 'task-dispatch started', 'worker-assignment started', 'qa-sampling started', 'settlement started']) {
      const lineDeadline = Date.now() + 30_000;
      while (!output.includes(line) && Date.now() < lineDeadline) await new Promise((r) => setTimeout(r, 100));
      expect(output, line).toContain(line);
    }
    const waitFor = async (re: RegExp) => {
      const lineDeadline = Date.now() + 30_000;
      while (!re.test(output) && Date.now() < lineDeadline) await new Promise((r) => setTimeout(r, 100));
      expect(output).toMatch(re);
      return re.exec(output)!;
    };
    // A process killed outright comes back; the gateway never stops serving meanwhile.
    const relayPid = Number((await waitFor(/\[start\] outbox-relay started \(pid (\d+)\)/))[1]);
    const gatewayPid = Number((await waitFor(/\[start\] gateway started \(pid (\d+)\)/))[1]);
    process.kill(relayPid, 'SIGKILL');
    await waitFor(/\[start\] outbox-relay exited unexpectedly \(signal SIGKILL\); restarting in 0\.5 s/);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await waitFor(/\[start\] outbox-relay is running again \(pid \d+\)/);
    expect(output).not.toMatch(/\[start\] gateway (exited|restarted)/);
    process.kill(gatewayPid, 0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('all processes stopped');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 120_000);

  it('says which dependency is unreachable and exits non-zero', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      env: childEnv({ REDIS_URL: 'redis://127.0.0.1:1' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/docker compose up -d redis/);
    expect(r.stderr).not.toMatch(/PostgreSQL is not reachable/);
  }, 60_000);
});
