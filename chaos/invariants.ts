import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { queueNames } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { leaseExpiryScheduler, outboxJobId, OUTBOX_LISTENER_APPLICATION_NAME, WEBHOOK_DELIVERY_QUEUE } from '@fairlabel/queues';
import type { Submitted } from './workload.js';

// What must hold after a run, however it was disturbed. Each check says how many items it looked at
// and how many broke the rule; none of them repairs anything.

export interface InvariantResult {
  name: string;
  /** null: a hook whose owner has not landed yet (see `pending`). */
  ok: boolean | null;
  checked: number;
  violations: number;
  note?: string;
  examples?: string[];
}

export interface InvariantContext {
  db: Db;
  redisUrl: string;
  prefix: string;
  submitted: Submitted[];
  received: Map<string, number>;
}

type Check = (ctx: InvariantContext) => Promise<InvariantResult>;

const result = (name: string, checked: number, bad: string[], note?: string): InvariantResult => ({
  name,
  ok: bad.length === 0,
  checked,
  violations: bad.length,
  ...(note ? { note } : {}),
  ...(bad.length ? { examples: bad.slice(0, 5) } : {}),
});

const everySubmitStored: Check = async ({ db, submitted }) => {
  const rows = submitted.length
    ? await db
        .selectFrom('assignments')
        .select(['id', 'status', 'answer'])
        .where('id', 'in', submitted.map((s) => s.assignmentId))
        .execute()
    : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const bad = submitted
    .filter((s) => {
      const row = byId.get(s.assignmentId);
      return !row || !['submitted', 'accepted', 'rejected'].includes(row.status) || !isDeepStrictEqual(row.answer, s.answer);
    })
    .map((s) => `assignment ${s.assignmentId}: ${JSON.stringify(byId.get(s.assignmentId) ?? 'missing')}`);
  return result('every 2xx submit stored', submitted.length, bad);
};

const noTaskOverOverlap: Check = async ({ db }) => {
  const over = await sql<{ id: number; required: number; n: number }>`
    SELECT t.id, t.required_annotations AS required, count(a.id)::int AS n
    FROM tasks t JOIN assignments a ON a.task_id = t.id AND a.status IN ('leased', 'submitted', 'accepted', 'rejected')
    GROUP BY t.id HAVING count(a.id) > t.required_annotations`.execute(db);
  const tasks = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return result('no task over its overlap', Number(tasks.n), over.rows.map((r) => `task ${r.id}: ${r.n} of ${r.required}`));
};

const noWorkerTwice: Check = async ({ db }) => {
  const twice = await sql<{ task_id: number; worker_id: string; n: number }>`
    SELECT task_id, worker_id, count(*)::int AS n FROM assignments GROUP BY task_id, worker_id HAVING count(*) > 1`.execute(db);
  const all = await db.selectFrom('assignments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return result('no worker with an item twice', Number(all.n), twice.rows.map((r) => `task ${r.task_id} worker ${r.worker_id}: ${r.n}`));
};

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const everyOutboxRowQueuedOrConsumed: Check = async ({ db, redisUrl, prefix }) => {
  const rows = await db.selectFrom('outbox').select(['id', 'queue', 'sent_at', 'consumed_at']).execute();
  const bad: string[] = [];
  await withRedis(redisUrl, async (r) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const p = r.pipeline();
      for (const row of batch) p.exists(`${prefix}:${row.queue}:${outboxJobId(row.id)}`);
      const replies = (await p.exec()) ?? [];
      batch.forEach((row, j) => {
        const queued = replies[j]?.[1] === 1;
        if (!row.sent_at) bad.push(`outbox ${row.id} (${row.queue}) never sent`);
        else if (!queued && !row.consumed_at) bad.push(`outbox ${row.id} (${row.queue}) neither in Redis nor consumed`);
      });
    }
  });
  return result('every outbox row queued or consumed', rows.length, bad);
};

const noJobStuckActive: Check = async ({ redisUrl, prefix }) => {
  const queues = [...queueNames, WEBHOOK_DELIVERY_QUEUE, leaseExpiryScheduler.queue];
  const bad: string[] = [];
  let checked = 0;
  await withRedis(redisUrl, async (r) => {
    for (const q of queues) {
      const active = await r.llen(`${prefix}:${q}:active`);
      checked += active + (await r.zcard(`${prefix}:${q}:completed`));
      if (active > 0) bad.push(`${q}: ${active} active`);
    }
  });
  return result('no job stuck active', checked, bad);
};

const everyWebhookDelivered: Check = async ({ db, submitted, received }) => {
  const deliveries = await db.selectFrom('webhook_deliveries').select(['id', 'status', 'message_id', 'source_key']).execute();
  const bad: string[] = [];
  // Every submission the workers were told about became a delivery to their vendor...
  const sources = new Set(deliveries.map((d) => d.source_key));
  for (const s of submitted) if (!sources.has(`assignment.submitted:${s.assignmentId}`)) bad.push(`no delivery for assignment.submitted:${s.assignmentId}`);
  // ...and every delivery reached the receiver and is recorded as delivered.
  const known = new Set(deliveries.map((d) => d.message_id));
  for (const d of deliveries) {
    if (d.status !== 'succeeded') bad.push(`delivery ${d.source_key}: ${d.status}`);
    else if (!received.has(d.message_id)) bad.push(`delivery ${d.source_key} recorded but never received`);
  }
  for (const id of received.keys()) if (!known.has(id)) bad.push(`received unknown webhook-id ${id}`);
  const duplicates = [...received.values()].reduce((n, c) => n + (c - 1), 0);
  return result(
    'every webhook delivered once',
    deliveries.length,
    bad,
    `${duplicates} repeated receptions of a webhook-id (a process killed between the receiver's 2xx and the record; receivers deduplicate by webhook-id)`,
  );
};

/** Leases are expired by the scheduler within seconds of their deadline, also after Redis was flushed. */
const noLeasePastExpiry: Check = async ({ db }) => {
  const stale = await sql<{ id: number; late: number }>`
    SELECT id, extract(epoch FROM now() - lease_expires_at)::int AS late FROM assignments
    WHERE status = 'leased' AND lease_expires_at < now() - interval '15 seconds'`.execute(db);
  const expired = await db.selectFrom('assignments').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'expired').executeTakeFirstOrThrow();
  return result('no lease left past its expiry', Number(expired.n) + stale.rows.length, stale.rows.map((r) => `assignment ${r.id}: ${r.late} s past`), `${expired.n} leases expired by the scheduler`);
};

const relayListening: Check = async ({ db }) => {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${OUTBOX_LISTENER_APPLICATION_NAME}`.execute(db);
  const n = r.rows[0]?.n ?? 0;
  return result('the relay LISTENs again after the database restart', 1, n >= 1 ? [] : ['no LISTEN connection']);
};

/**
 * HOOKS for the invariants of services that have not landed. Each owner replaces its `pending` with a
 * real check of the same shape (and the suite then fails when it breaks):
 * - QA: every task whose overlap is full is decided (status decided, result set) — `every task decided`;
 * - settlement: every accepted assignment has exactly one ledger transaction — `every accepted
 *   assignment paid exactly once`; the postings of every transaction sum to zero per currency, and the
 *   accounts to the totals of the pay runs — `the ledger balanced`.
 */
const pending =
  (name: string, owner: string): Check =>
  async () => ({ name, ok: null, checked: 0, violations: 0, note: `hook: filled in when ${owner} lands` });

export const everyTaskDecided: Check = pending('every task decided', 'qa-sampling');
export const everyAcceptedPaidOnce: Check = pending('every accepted assignment paid exactly once', 'settlement');
export const ledgerBalanced: Check = pending('the ledger balanced', 'settlement');

export const invariants: Check[] = [
  everySubmitStored,
  noTaskOverOverlap,
  noWorkerTwice,
  everyOutboxRowQueuedOrConsumed,
  noJobStuckActive,
  everyWebhookDelivered,
  noLeasePastExpiry,
  relayListening,
  everyTaskDecided,
  everyAcceptedPaidOnce,
  ledgerBalanced,
];

export async function checkInvariants(ctx: InvariantContext): Promise<InvariantResult[]> {
  const out: InvariantResult[] = [];
  for (const check of invariants) out.push(await check(ctx));
  return out;
}
