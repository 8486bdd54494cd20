import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const run = (mode: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'packages/observability/test/guarded.fixture.ts', mode], { cwd: root, encoding: 'utf8', timeout: 30_000 });

describe('process guards', () => {
  it('log and count an unhandled rejection, and keep the process running', () => {
    const r = run('rejection');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/"msg":"unhandled promise rejection[^"]*"/);
    expect(r.stdout).toContain('nobody awaited me');
    expect(r.stdout).toMatch(/fairlabel_process_unhandled_errors_total\{kind="rejection"\} 1/);
    expect(r.stdout).toContain('still running');
  });

  it('log an uncaught exception and exit 70 so a clean process replaces this one', () => {
    const r = run('exception');
    expect(r.status).toBe(70);
    expect(r.stdout).toMatch(/"level":60.*uncaught exception/);
    expect(r.stdout).toContain('thrown from a timer');
    expect(r.stdout).not.toContain('should not get here');
  });
});
