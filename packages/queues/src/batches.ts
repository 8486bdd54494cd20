import { createHash } from 'node:crypto';
import type { QueueName } from '@fairlabel/contracts';
import type { QueueSet } from './queue-set.js';

// Events travel from the outbox to BullMQ in batches: one job carries up to N events of one queue. A
// job per event made the transport (relay, Redis round trips, BullMQ's per-job bookkeeping, the
// consumer's fetch) cost ~10x a plain INSERT … SELECT of the same rows before any handler ran; a batch
// pays those costs once for hundreds of events, and its events reach the handlers together, so each
// service's GroupCommit turns them into one SQL batch.

/** The BullMQ job name of a batch of events (a single-event job is named after its event). */
export const BATCH_JOB_NAME = 'events';

/** Events per batch job unless the relay is told otherwise (the relay's claim size). */
export const DEFAULT_BATCH_EVENTS = 500;

/**
 * Serialized payload bytes per batch job: Redis stores the job as one hash field and every consumer
 * fetch moves it whole, so a batch of unusually large payloads is split rather than made huge. An event
 * larger than this travels alone.
 */
export const DEFAULT_BATCH_BYTES = 1_000_000;

/** One event of a batch: the outbox row id it was published as, its name and its payload. */
export interface BatchedEvent {
  id: number;
  event: string;
  payload: unknown;
}

/** The data of a batch job. */
export interface BatchJobData {
  events: BatchedEvent[];
}

export interface EventBatch {
  /** The batch's BullMQ job id, recorded as outbox.batch_id on each of its rows. */
  jobId: string;
  queue: string;
  events: BatchedEvent[];
}

/**
 * The job id of a batch: derived from the ids of all its rows, not only the first. A relay killed after
 * adding a batch but before marking its rows sent leaves them unsent; the relay that claims them next
 * builds the same batch from the same rows, and BullMQ ignores the second add of the same id. If it
 * claims a different set (rows another relay held locked before, or more rows), the id differs and the
 * batch is a second job: the consumers are idempotent, and each row records the one batch that was
 * committed with it. Had the id named the first row only, that second batch would have been dropped as
 * a duplicate of the first while its rows were marked as carried by it: events lost.
 */
export function batchJobId(ids: readonly number[], createdAt?: readonly Date[]): string {
  if (ids.length === 0) throw new Error('a batch has at least one event');
  // With the rows' created_at: ids alone repeat in another database (a fresh one, a test's, a demo's)
  // whose relay uses the same Redis prefix, and BullMQ would drop its batch as a duplicate of a completed
  // job of the other database — events lost (seen: a second quick start on a fresh database left two
  // assignment.decided events undelivered). The same rows still give the same id (created_at is stored).
  const hash = createHash('sha1').update(ids.join(','));
  if (createdAt) hash.update(`@${createdAt.map((d) => d.getTime()).join(',')}`);
  return `outbox-batch-${ids[0]}-${hash.digest('hex').slice(0, 12)}`;
}

export function isBatchJobId(jobId: string): boolean {
  return /^outbox-batch-[1-9][0-9]{0,17}-[0-9a-f]{12}$/.test(jobId);
}

/**
 * Packs outbox rows (in the order given: by id) into batches, per queue: at most `maxEvents` events and,
 * past the first event, at most `maxBytes` of serialized payload per batch.
 */
export function packBatches(
  rows: readonly { id: number; event: string; queue: string; payload: unknown; created_at?: Date }[],
  opts: { maxEvents?: number; maxBytes?: number } = {},
): EventBatch[] {
  const maxEvents = Math.max(1, opts.maxEvents ?? DEFAULT_BATCH_EVENTS);
  const maxBytes = opts.maxBytes ?? DEFAULT_BATCH_BYTES;
  const open = new Map<string, { events: BatchedEvent[]; bytes: number; createdAt: Date[] }>();
  const done: { queue: string; events: BatchedEvent[]; createdAt: Date[] }[] = [];
  for (const r of rows) {
    const bytes = JSON.stringify(r.payload ?? null).length + r.event.length + 32;
    let current = open.get(r.queue);
    if (current && (current.events.length >= maxEvents || current.bytes + bytes > maxBytes)) {
      done.push({ queue: r.queue, events: current.events, createdAt: current.createdAt });
      current = undefined;
    }
    if (!current) open.set(r.queue, (current = { events: [], bytes: 0, createdAt: [] }));
    current.events.push({ id: r.id, event: r.event, payload: r.payload });
    if (r.created_at) current.createdAt.push(r.created_at);
    current.bytes += bytes;
  }
  for (const [queue, b] of open) done.push({ queue, events: b.events, createdAt: b.createdAt });
  // Rows read from the outbox carry created_at (the relay's); a caller that packs bare rows gets ids alone.
  return done.map((b) => ({ queue: b.queue, events: b.events, jobId: batchJobId(b.events.map((e) => e.id), b.createdAt.length === b.events.length ? b.createdAt : undefined) }));
}

/** The BullMQ job of a batch. */
export function batchJob(batch: EventBatch): { name: string; data: BatchJobData; opts: { jobId: string } } {
  return { name: BATCH_JOB_NAME, data: { events: batch.events }, opts: { jobId: batch.jobId } };
}

/**
 * Adds batches to their queues, every queue at once. If one add fails the caller's rows stay unsent (or
 * lost, for the reconciler); the batches that were added are added again next time by the same job ids,
 * which BullMQ keeps once.
 */
export async function addBatches(queues: QueueSet, batches: readonly EventBatch[]): Promise<void> {
  const byQueue = new Map<string, EventBatch[]>();
  for (const b of batches) byQueue.set(b.queue, [...(byQueue.get(b.queue) ?? []), b]);
  const adds = [...byQueue].map(([queue, items]) => {
    const q = queues[queue as QueueName];
    if (!q) throw new Error(`outbox rows for unknown queue ${queue} (batch ${items[0]!.jobId})`);
    return [q, items] as const;
  });
  await Promise.all(adds.map(([q, items]) => q.addBulk(items.map(batchJob))));
}

/** Whether a batch event's `id` is an outbox row id (a positive safe integer). */
export const isOutboxId = (id: unknown): id is number => typeof id === 'number' && Number.isSafeInteger(id) && id > 0;

/** The outbox rows a job carries: a batch's events, a single event's row (`outbox-<id>`), or none. */
export function outboxIdsOfJob(job: { id?: string | undefined; name: string; data: unknown }): number[] {
  if (job.name === BATCH_JOB_NAME) {
    const events = (job.data as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) return [];
    return events.map((e) => (e as { id?: unknown } | null)?.id).filter(isOutboxId);
  }
  const m = /^outbox-([1-9][0-9]{0,17})$/.exec(job.id ?? '');
  return m ? [Number(m[1])] : [];
}
