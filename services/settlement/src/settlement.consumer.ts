import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventPayload } from '@fairlabel/contracts';
import { isTransientDbError, sql, type Db } from '@fairlabel/db';
import { createConsumer, GroupCommit, type HandlerMap } from '@fairlabel/queues';
import type { Deps } from '@fairlabel/runtime';
import { countPosted, type Posted } from './ledger.js';

export type SettlementEvent =
  | { event: 'assignment.decided'; payload: EventPayload<'assignment.decided'> }
  | { event: 'task.decided'; payload: EventPayload<'task.decided'> }
  | { event: 'review.completed'; payload: EventPayload<'review.completed'> };

/**
 * Posts a batch of parsed events in one statement, so one database transaction and one round trip
 * (packages/db/sql/st_post_events.sql): the decisions and reviews are recorded (with their hours)
 * before the ledger lock is taken, then their pay and the charges are posted under it, each type by
 * set-based SQL functions (st_record_*.sql); the deferred balance check runs at its commit. Every
 * effect is keyed (decision ids, `task:<id>:charge`, `review:<id>:earning`), so a
 * redelivered event posts nothing. Returns what it posted, per kind (for the ledger metrics).
 */
export async function postSettlementEvents(db: Db, events: SettlementEvent[]): Promise<Posted[]> {
  const decisions = events.filter((e) => e.event === 'assignment.decided').map((e) => e.payload);
  const charges = events.filter((e) => e.event === 'task.decided').map((e) => e.payload);
  const reviews = events.filter((e) => e.event === 'review.completed').map((e) => e.payload);
  const r = await sql<Posted>`
    SELECT kind, transactions, postings
    FROM st_post_events(${JSON.stringify(decisions)}::jsonb, ${JSON.stringify(charges)}::jsonb, ${JSON.stringify(reviews)}::jsonb)
  `.execute(db);
  return r.rows;
}

export interface SettlementHandlers {
  handlers: HandlerMap;
  committer: GroupCommit<SettlementEvent>;
}

/**
 * The settlement queue's handlers. Each waits for the group commit that carries its event, so BullMQ
 * acknowledges an event only once its postings are committed (at-least-once delivery, exactly-once
 * effect). Tests call these with parsed payloads; the process wires them to BullMQ below.
 */
export function settlementHandlers(deps: Pick<Deps, 'db' | 'metrics'>, maxBatch = SETTLEMENT_BATCH): SettlementHandlers {
  // Counted once committed: fairlabel_ledger_transactions_total / _postings_total, by kind.
  // Two flushes in flight: each records its decisions before it takes the ledger lock, so one batch's
  // decisions go in while the other batch holds the lock (st_post_events.sql).
  const committer = new GroupCommit<SettlementEvent>(async (items) => countPosted(deps.metrics, await postSettlementEvents(deps.db, items)), {
    maxBatch,
    inFlight: 2,
    transient: isTransientDbError,
  });
  return {
    committer,
    handlers: {
      'assignment.decided': (payload) => committer.add({ event: 'assignment.decided', payload }),
      'task.decided': (payload) => committer.add({ event: 'task.decided', payload }),
      'review.completed': (payload) => committer.add({ event: 'review.completed', payload }),
    },
  };
}

/**
 * Events per group commit (one statement, one database transaction). A batch has fixed costs whatever
 * its size (the statements' set-up, the triggers' calls, the commit's flush); 1,000 looked ~10 % cheaper
 * per earning than 500 in one psql run (10 interleaved batches each, at load ~30: not conclusive), and
 * with twice the events in flight the consumer's peak RSS reached 288–299 MB in the bench (bar 300 MB),
 * so it stays at 500.
 */
export const SETTLEMENT_BATCH = 500;

/**
 * Many events in flight per process (BullMQ concurrency), so that group commits fill up: the work per
 * event is a few rows inside a shared statement; the round trips are per batch. Twice the largest
 * batch: the two flushes the committer runs at once (one recording its events while the other holds
 * the ledger lock). The consumer also holds one batch job more than these slots take
 * (jobConcurrencyFor), already fetched and parsed, so a flush that commits frees slots that refill at
 * once; more slots only held more memory (peak RSS is close to its 300 MB bar).
 */
export const SETTLEMENT_CONCURRENCY = 2 * SETTLEMENT_BATCH;

export function createSettlementConsumer(deps: Deps, connection: Redis, concurrency = SETTLEMENT_CONCURRENCY, stalledMs = deps.config.QUEUE_STALLED_MS): Worker {
  return createConsumer({
    queue: 'settlement',
    handlers: settlementHandlers(deps).handlers,
    connection,
    prefix: deps.prefix,
    logger: deps.logger,
    concurrency,
    stalledMs,
  });
}
