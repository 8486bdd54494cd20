/**
 * The authorization matrix: every operation of the OpenAPI document × every role × (own tenant's
 * resource, another tenant's) plus a caller without a key, each cell's expected status taken from ONE
 * table (authorization.table.ts). See that file for what a row says and how to add one.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { integrationTest, newApiKey, type Actor, type WorkerActor } from '@fairlabel/testing';
import { buildGateway } from '../../src/app.js';
import { authorizationTable, type Role, type Row, type Tenant } from './authorization.table.js';
import { operationsOf, sampleOf, type Operation } from './openapi-walk.js';

const test = integrationTest({ app: buildGateway, config: { RATE_LIMIT_MAX: 1_000_000, RATE_LIMIT_IP_MAX: 1_000_000 } });
const ROLES: Role[] = ['admin', 'client', 'vendor', 'worker', 'ops', 'finance'];

interface Cell {
  op: Operation;
  row: Row;
  who: Role | 'anonymous';
  tenant: 'own' | 'other';
  /** What the status must be, or must not be. */
  expect: { is: number; code: string } | { not: number[] };
}

function cellsOf(op: Operation, row: Row): Cell[] {
  const cells: Cell[] = [{ op, row, who: 'anonymous', tenant: 'own', expect: row.public ? { not: [401, 403] } : { is: 401, code: 'unauthorized' } }];
  if (row.public) return cells;
  for (const role of ROLES) {
    const access = row[role];
    if (!access) {
      cells.push({ op, row, who: role, tenant: 'own', expect: { is: 403, code: 'forbidden' } });
      continue;
    }
    cells.push({ op, row, who: role, tenant: 'own', expect: { not: [401, 403] } });
    if (row.tenant) cells.push({ op, row, who: role, tenant: 'other', expect: access === 'own' ? { is: 404, code: 'not_found' } : { not: [401, 403] } });
  }
  return cells;
}

/** Destructive cells last, so that reads see resources before deletes and cancellations. */
const order = (c: Cell) => (c.op.method === 'GET' ? 0 : c.op.method === 'DELETE' ? 2 : 1);

describe('authorization matrix', () => {
  test('every operation of the OpenAPI document has a row in authorization.table.ts, and every row an operation', async ({ app }) => {
    const keys = operationsOf(app).operations.map((o) => o.key);
    const missing = keys.filter((k) => !(k in authorizationTable));
    const stale = Object.keys(authorizationTable).filter((k) => !keys.includes(k));
    expect(missing, 'operations without a row: add one line each to services/gateway/test/security/authorization.table.ts').toEqual([]);
    expect(stale, 'rows whose operation is gone').toEqual([]);
  });

  test('every cell answers as the table says', { timeout: 600_000 }, async ({ app, env, seed, client, vendor, worker, admin, ops, finance }) => {
    const { operations, doc } = operationsOf(app);
    const components = doc.components?.schemas ?? {};
    const other = { client: await seed.client(), vendor: await seed.vendor() };
    const otherWorker = await seed.worker(other.vendor);
    const actors: Record<Role, Actor> = { admin, client, vendor, worker, ops, finance };

    // One resource of the caller's tenant (or, for 'other', of another tenant) per cell, made fresh so
    // that no cell sees what another did to it.
    async function resource(kind: Tenant, role: Role, which: 'own' | 'other'): Promise<string> {
      const mine: { client: Actor; vendor: Actor; worker: WorkerActor } = { client, vendor, worker };
      const org = which === 'own' ? actors[role].organizationId : role === 'vendor' || role === 'worker' ? other.vendor.organizationId : other.client.organizationId;
      switch (kind) {
        case 'organization':
          return org;
        case 'job':
          return (await seed.activeJob(1, { owner: which === 'own' ? mine.client : other.client })).id;
        case 'worker':
          return (await seed.worker(which === 'own' ? mine.vendor : other.vendor)).workerId;
        case 'api_key':
          return (await newApiKey(env.db, org, role === 'vendor' ? 'vendor' : 'client')).keyId;
        case 'webhook': {
          const owner = which === 'own' ? (role === 'vendor' ? vendor : client) : role === 'vendor' ? other.vendor : other.client;
          const res = await app.inject({
            method: 'POST',
            url: '/v1/webhooks',
            headers: owner.auth,
            payload: { url: 'https://93.184.215.14/hook', event_types: owner === vendor || owner === other.vendor ? ['assignment.submitted'] : ['job.completed'] },
          });
          expect(res.statusCode, res.body).toBe(201);
          return res.json().id as string;
        }
        case 'assignment': {
          const job = await seed.activeJob(1);
          const [a] = await seed.answers(job.tasks, which === 'own' ? worker : otherWorker, { status: 'submitted' });
          return String(a!.id);
        }
      }
    }

    const cells = operations
      .filter((op) => op.key in authorizationTable)
      .flatMap((op) => cellsOf(op, authorizationTable[op.key]!))
      .sort((a, b) => order(a) - order(b));
    const failures: string[] = [];
    let checked = 0;
    for (const cell of cells) {
      const { op, row, who } = cell;
      const role: Role = who === 'anonymous' ? 'client' : who;
      const params = await Promise.all(
        op.pathParams.map(async (p, i) => {
          if (i === 0 && row.tenant) return resource(row.tenant, role, cell.tenant);
          const s = (p.schema ?? {}) as Record<string, unknown>;
          if (p.name === 'name') return 'task-dispatch';
          if (p.name === 'skill') return 'cats';
          if (p.name === 'vendor_id') return vendor.organizationId;
          if (s.format === 'uuid') return randomUUID();
          return String(s.pattern ?? '').includes('0-9') || s.type === 'integer' ? '1' : 'x';
        }),
      );
      let i = 0;
      const query = op.queryParams.filter((p) => p.required).map((p) => `${p.name}=${encodeURIComponent(String(sampleOf(p.schema, components, { uuid: randomUUID, int: () => '1' })))}`);
      const url = op.path.replace(/\{[^}]+\}/g, () => params[i++]!) + (query.length ? `?${query.join('&')}` : '');
      const body = row.body ?? (op.body ? sampleOf(op.body, components, { uuid: randomUUID, int: () => '1' }) : undefined);
      const res = await app.inject({
        method: op.method as 'GET',
        url,
        headers: who === 'anonymous' ? {} : actors[who].auth,
        ...(body !== undefined ? { payload: body as object } : {}),
      });
      checked++;
      const code = (() => {
        try {
          return (res.json() as { error?: { code?: string } }).error?.code;
        } catch {
          return undefined;
        }
      })();
      const ok = 'is' in cell.expect ? res.statusCode === cell.expect.is && code === cell.expect.code : !cell.expect.not.includes(res.statusCode) && res.statusCode < 500;
      if (!ok) failures.push(`${op.key} as ${who} on ${cell.tenant} tenant: expected ${JSON.stringify(cell.expect)}, got ${res.statusCode} ${res.body.slice(0, 160)}`);
    }
    console.log(`authorization matrix: ${checked} cells over ${Object.keys(authorizationTable).length} rows (${ROLES.length} roles × own/other tenant + no key); ${failures.length} not as the table says`);
    expect(failures).toEqual([]);
    expect(checked).toBe(cells.length);
  });
});
