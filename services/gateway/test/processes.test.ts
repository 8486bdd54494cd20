import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { integrationTest, type TestEnv } from '@fairlabel/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const test = integrationTest();

/** The environment of a process of this file's stack: its database and Redis prefix. */
function childEnv(env: TestEnv, extra: Record<string, string> = {}) {
  return { ...process.env, DATABASE_URL: env.config.DATABASE_URL, REDIS_PREFIX: env.prefix, LOG_LEVEL: 'warn', ...extra };
}

function cli(env: TestEnv, args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/gateway/src/cli.ts', ...args], { cwd: root, env: childEnv(env), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

describe('pnpm fairlabel (operator CLI)', () => {
  test('bootstrap prints the first admin key on its last line, refuses a second run, and --new-key issues another', async ({ env }) => {
    const first = cli(env, ['bootstrap']);
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

    const again = cli(env, ['bootstrap']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already.*--new-key/);

    const extra = cli(env, ['bootstrap', '--new-key']);
    expect(extra.code).toBe(0);
    const second = extra.stdout.split('\n').at(-1)!;
    expect(second).toMatch(/^fl_/);
    expect(second).not.toBe(key);
    const platforms = await env.db.selectFrom('organizations').select('id').where('kind', '=', 'platform').execute();
    expect(platforms.length).toBe(1);
  }, 60_000);

  test('creates organizations and keys, and explains bad arguments', async ({ env }) => {
    const org = cli(env, ['create-org', '--kind', 'vendor', '--name', 'Village Labels']);
    expect(org.code).toBe(0);
    const key = cli(env, ['create-key', '--org', org.stdout, '--role', 'vendor']);
    expect(key.code).toBe(0);
    expect(key.stdout.split('\n').at(-1)).toMatch(/^fl_/);
    const wrongRole = cli(env, ['create-key', '--org', org.stdout, '--role', 'admin']);
    expect(wrongRole.code).toBe(1);
    expect(wrongRole.stderr).toMatch(/role_not_allowed/);
    const badKind = cli(env, ['create-org', '--kind', 'platform', '--name', 'x']);
    expect(badKind.code).toBe(1);
    expect(badKind.stderr).toMatch(/--kind/);
  }, 60_000);
});

// pnpm start with every process, killed ones restarted and a graceful SIGTERM: chaos/chaos.test.ts.
describe('pnpm start (supervisor)', () => {
  test('says which dependency is unreachable and exits non-zero', ({ env }) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      env: childEnv(env, { REDIS_URL: 'redis://127.0.0.1:1' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/docker compose up -d redis/);
    expect(r.stderr).not.toMatch(/PostgreSQL is not reachable/);
  }, 60_000);
});
