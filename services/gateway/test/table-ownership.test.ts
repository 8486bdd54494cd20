import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect } from 'vitest';
import type { Db } from '@fairlabel/db';
import { dbTest as test } from '@fairlabel/db/testing';

// One writing service per table (DESIGN.md), as the README's map says it. This reads the code as
// text: every write it can see (kysely insertInto/updateTable/deleteFrom, raw INSERT/UPDATE/DELETE/
// COPY, the bodies of SQL functions and triggers) is attributed to a service by where it stands, and
// must come from the table's owner in the README. A new table without a row in the map fails too.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICES = ['gateway', 'task-dispatch', 'worker-assignment', 'qa-sampling', 'settlement'] as const;
/** SQL functions and triggers belong to the service their name's prefix says. */
const SQL_PREFIX_OWNERS: Record<string, string> = { wa_: 'worker-assignment', td_: 'task-dispatch', st_: 'settlement', qa_: 'qa-sampling' };
const ANY_SERVICE = '*';

interface Write {
  table: string;
  writer: string;
  where: string;
}

/** table -> owning service (or ANY_SERVICE), from the README's "Who writes which table". */
function ownershipMap(): Map<string, string> {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### Who writes which table');
  expect(start, 'README has a "Who writes which table" section').toBeGreaterThan(-1);
  // The section's first table, up to the first line that is not a table row.
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  const rows = lines.slice(first, end).filter((l) => l.startsWith('| `'));
  const owners = new Map<string, string>();
  for (const row of rows) {
    const [tablesCell = '', ownerCell = ''] = row.split('|').slice(1).map((c) => c.trim());
    // Migration bookkeeping is packages/db's own (its migrator), not a service's.
    const owner = /^every service/i.test(ownerCell)
      ? ANY_SERVICE
      : ownerCell.startsWith('packages/db')
        ? 'package db'
        : SERVICES.map((s) => ({ s, at: ownerCell.indexOf(s) }))
          .filter((x) => x.at >= 0)
          .sort((a, b) => a.at - b.at)[0]?.s;
    expect(owner, `the owner of ${tablesCell} is one of ${SERVICES.join(', ')}`).toBeDefined();
    for (const m of tablesCell.matchAll(/`([a-z_]+)`/g)) owners.set(m[1]!, owner!);
  }
  return owners;
}

function files(dir: string, ext: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => ext.test(f)).map((f) => path.join(dir, f));
}

const KYSELY_WRITE = /\.(?:insertInto|updateTable|deleteFrom|mergeInto|replaceInto)\(\s*['"`]([a-z_][a-z0-9_]*)/g;
const RAW_WRITE = /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY|TRUNCATE(?:\s+TABLE)?|MERGE\s+INTO)\s+([a-z_][a-z0-9_]*)/g;
const SQL_FUNCTION = /CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)[\s\S]*?\$([a-z]*)\$([\s\S]*?)\$\2\$/g;

function sqlFunctionOwner(name: string): string | undefined {
  return Object.entries(SQL_PREFIX_OWNERS).find(([prefix]) => name.startsWith(prefix))?.[1];
}

/** Every write the code makes, with the service that makes it. */
function writesInCode(): { writes: Write[]; problems: string[] } {
  const writes: Write[] = [];
  const problems: string[] = [];
  const rel = (f: string) => path.relative(root, f);

  // TypeScript of services and packages (tests, the test harness and seeders are not services).
  const sources = [
    ...SERVICES.flatMap((s) => files(path.join(root, 'services', s, 'src'), /\.ts$/).map((f) => ({ f, writer: s }))),
    ...readdirSync(path.join(root, 'packages'))
      .filter((p) => p !== 'testing')
      .flatMap((p) => files(path.join(root, 'packages', p, 'src'), /\.ts$/).map((f) => ({ f, writer: `package ${p}` }))),
  ].filter(({ f }) => !f.endsWith('.test.ts') && !f.includes(`${path.sep}migrations${path.sep}`));
  for (const { f, writer } of sources) {
    const text = readFileSync(f, 'utf8');
    // The shared HTTP layer runs in the gateway; the queues package's writes are the outbox relay's.
    const who = writer === 'package http' ? 'gateway' : writer === 'package queues' ? 'outbox relay' : writer;
    for (const re of [KYSELY_WRITE, RAW_WRITE]) for (const m of text.matchAll(re)) writes.push({ table: m[1]!, writer: who, where: rel(f) });
    // A service calling another service's SQL function writes through it.
    for (const m of text.matchAll(/\b((?:wa|td|st|qa)_[a-z0-9_]+)\(/g)) {
      const owner = sqlFunctionOwner(m[1]!);
      if (owner && SERVICES.includes(writer as (typeof SERVICES)[number]) && owner !== writer) problems.push(`${rel(f)} (${writer}) calls ${m[1]}, which belongs to ${owner}`);
    }
  }

  // SQL functions and triggers, in migrations or in their own .sql files.
  const sqlSources = [...files(path.join(root, 'packages', 'db', 'src', 'migrations'), /\.ts$/), ...files(path.join(root, 'packages', 'db', 'sql'), /\.sql$/)];
  for (const f of sqlSources) {
    for (const fn of readFileSync(f, 'utf8').matchAll(SQL_FUNCTION)) {
      const [, name, , body] = fn;
      const bodyWrites = [...body!.matchAll(RAW_WRITE)].map((m) => m[1]!);
      if (bodyWrites.length === 0) continue;
      const owner = sqlFunctionOwner(name!);
      if (!owner) {
        problems.push(`${rel(f)}: SQL function ${name} writes ${bodyWrites.join(', ')} but its name has no owner prefix (${Object.keys(SQL_PREFIX_OWNERS).join(', ')})`);
        continue;
      }
      for (const table of bodyWrites) writes.push({ table, writer: owner, where: `${rel(f)} ${name}()` });
    }
  }
  return { writes, problems };
}

/** The tables of the migrated schema. */
async function schemaTables(db: Db): Promise<string[]> {
  const rows = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%' ORDER BY 1`.execute(db);
  return rows.rows.map((r) => r.tablename);
}

describe('table ownership', () => {
  test("every table of the schema has an owner in the README's map, and the map names no table that does not exist", async ({ db }) => {
    const owners = ownershipMap();
    const tables = await schemaTables(db);
    expect(tables.filter((t) => !owners.has(t))).toEqual([]);
    expect([...owners.keys()].filter((t) => !tables.includes(t))).toEqual([]);
  });

  test('the scan sees the writes it is meant to see', () => {
    const seen = new Set(writesInCode().writes.map((w) => `${w.table} <- ${w.writer}`));
    for (const expected of [
      'api_keys <- gateway',
      'jobs <- task-dispatch',
      'tasks <- task-dispatch',
      'assignments <- worker-assignment',
      'task_slots <- worker-assignment',
      'outbox <- worker-assignment',
      'outbox <- outbox relay',
      'audit_log <- gateway',
      'qa_task_decisions <- qa-sampling',
      'qa_assignment_decisions <- qa-sampling',
      'outbox <- outbox relay',
    ]) {
      expect(seen).toContain(expected);
    }
  });

  test('each table is written only by its owner (outbox rows by every service and the relay)', async ({ db }) => {
    const owners = ownershipMap();
    const tables = await schemaTables(db);
    const { writes, problems } = writesInCode();
    const violations = writes
      .filter((w) => tables.includes(w.table))
      .filter((w) => {
        const owner = owners.get(w.table);
        if (owner === ANY_SERVICE) return !(SERVICES as readonly string[]).includes(w.writer) && w.writer !== 'outbox relay';
        return owner !== w.writer;
      })
      .map((w) => `${w.where}: ${w.writer} writes ${w.table}, owned by ${owners.get(w.table) ?? 'nobody'}`);
    expect([...new Set([...violations, ...problems])]).toEqual([]);
  });
});
