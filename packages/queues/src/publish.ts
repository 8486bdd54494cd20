import { eventSchemas, queuesFor, type EventName, type EventPayload } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '@fairlabel/db';

export const OUTBOX_CHANNEL = 'fairlabel_outbox';

export class NoSubscriberError extends Error {
  constructor(event: string) {
    super(`event ${event} has no subscribing queue; add it to a queue's subscriptions in packages/contracts/src/events`);
  }
}

/**
 * The rows an event is published as, validated and routed exactly as publish() does it: the payload
 * must fit the event's schema and at least one queue must subscribe.
 */
function outboxRowsOf<E extends EventName>(event: E, payload: EventPayload<E>): { event: E; queue: string; payload: string }[] {
  const parsed = eventSchemas[event].parse(payload) as Record<string, unknown>;
  const queues = queuesFor(event);
  if (queues.length === 0) throw new NoSubscriberError(event);
  const payloadJson = JSON.stringify(parsed);
  return queues.map((queue) => ({ event, queue, payload: payloadJson }));
}

/**
 * publish() for a state change made by one statement: the event's outbox rows, validated and routed
 * exactly as publish() does it, as a JSON array (`[{event, queue, payload}]`) for a SQL function that
 * writes them in the same statement as the change, only if the change happened (see wa_submit), and
 * then notifies OUTBOX_CHANNEL.
 */
export function outboxRowsJson<E extends EventName>(event: E, payload: EventPayload<E>): string {
  return `[${outboxRowsOf(event, payload)
    .map((r) => `{"event":${JSON.stringify(r.event)},"queue":${JSON.stringify(r.queue)},"payload":${r.payload}}`)
    .join(',')}]`;
}

/**
 * Publishes an event the only way events are published: as outbox rows written in the caller's
 * transaction, so the event exists if and only if the state change committed. The relay moves the
 * rows to BullMQ. NOTIFY inside a transaction is delivered at commit, so the relay wakes exactly then.
 */
export async function publish<E extends EventName>(
  trx: Transaction<Database> | Kysely<Database>,
  event: E,
  payload: EventPayload<E>,
): Promise<number[]> {
  if (!trx.isTransaction) {
    // An outbox write outside a transaction would make the event independent of the state change it reports.
    throw new Error('publish() must be called inside the transaction that makes the state change');
  }
  const values = outboxRowsOf(event, payload);
  // One round trip: insert the rows and queue the NOTIFY in the same statement (Postgres folds the
  // identical notifications of one transaction into one).
  const rows = await trx
    .with('written', (db) => db.insertInto('outbox').values(values).returning('id'))
    .selectFrom('written')
    .select(['written.id', sql<string>`pg_notify(${OUTBOX_CHANNEL}, '')`.as('notified')])
    .execute();
  return rows.map((r) => r.id);
}

export type { Db };

/** One event of a publishMany batch. */
export type OutboxEvent = { [E in EventName]: { event: E; payload: EventPayload<E> } }[EventName];

/**
 * publish() for a set-based state change: every event of the batch validated and routed as publish()
 * does it, written in ONE insert (and one NOTIFY) in the caller's transaction. A consumer that decides
 * hundreds of tasks in a statement publishes their events in one round trip, not one per event.
 */
export async function publishMany(trx: Transaction<Database> | Kysely<Database>, events: readonly OutboxEvent[]): Promise<number> {
  if (!trx.isTransaction) throw new Error('publishMany() must be called inside the transaction that makes the state change');
  if (events.length === 0) return 0;
  const rows = events.flatMap((e) => outboxRowsOf(e.event, e.payload as EventPayload<typeof e.event>));
  const res = await sql<{ n: number }>`
    WITH written AS (
      INSERT INTO outbox (event, queue, payload)
      SELECT o.event, o.queue, o.payload FROM jsonb_to_recordset(${`[${rows.map((r) => `{"event":${JSON.stringify(r.event)},"queue":${JSON.stringify(r.queue)},"payload":${r.payload}}`).join(',')}]`}::jsonb)
        AS o(event text, queue text, payload jsonb)
      RETURNING 1
    )
    SELECT count(*)::int AS n, pg_notify(${OUTBOX_CHANNEL}, '') AS notified FROM written`.execute(trx);
  return res.rows[0]?.n ?? 0;
}
