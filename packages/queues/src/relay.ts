import pg from 'pg';
import type { Redis } from 'ioredis';
import { isDatabaseUnavailable, sql, type Db } from '@fairlabel/db';
import type { Logger } from '@fairlabel/observability';
import { OUTBOX_CHANNEL } from './publish.js';
import { createQueueSet, closeQueueSet, type QueueSet } from './queue-set.js';
import { addBatches, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_EVENTS, packBatches, type EventBatch } from './batches.js';

export interface OutboxRelayOptions {
  db: Db;
  databaseUrl: string;
  redis: Redis;
  prefix: string;
  logger: Logger;
  pollMs?: number;
  /** The most events one BullMQ job carries (default 500). */
  batchSize?: number;
  /**
   * Rows claimed per drain (default 4 × batchSize): one claim, one `addBulk` per queue (all queues at
   * once) and one marking UPDATE move them, so a drain's round trips are paid per 2,000 rows, and a
   * queue's share of a drain still fills its jobs when the rows are spread over several queues (a QA
   * decision writes rows for five queues).
   */
  claimRows?: number;
  /** The most serialized payload bytes one job carries (default ~1 MB); a larger event travels alone. */
  batchBytes?: number;
  /** Called on every poll tick (the reconciler checks its flush marker here). */
  onTick?: () => void;
}

/** The LISTEN connection's name in pg_stat_activity. */
export const OUTBOX_LISTENER_APPLICATION_NAME = 'fairlabel-outbox-listener';
const LISTEN_RETRY_MIN_MS = 500;
const LISTEN_RETRY_MAX_MS = 30_000;

/**
 * Moves committed outbox rows to BullMQ in batches. Rows are claimed with FOR UPDATE SKIP LOCKED, so
 * any number of relays can run; the rows of one queue in a drain travel as jobs of up to `batchSize`
 * events (and ~`batchBytes`), each with a job id derived from its rows (batchJobId), recorded on every
 * row as `batch_id` in the UPDATE that marks it sent. A relay killed after adding but before marking
 * leaves the rows unsent; the next drain builds the same batch from the same rows, which BullMQ adds
 * once — or, if it claimed a different set, a second batch, and the idempotent consumers make the
 * repeated events no-ops.
 *
 * "Sent" means handed to Redis, not "still queued": the Reconciler re-publishes, whole and with the
 * same job id, a sent batch whose job Redis lost. NOTIFY wakes the relay at once; polling every `pollMs` covers notifications lost while
 * the LISTEN connection is down, and that connection is re-established with backoff whenever it drops
 * (a database restart), so the relay does not fall back to polling for the rest of its life.
 */
export class OutboxRelay {
  private readonly queues: QueueSet;
  private listener: pg.Client | null = null;
  private listenRetryMs = LISTEN_RETRY_MIN_MS;
  private listenTimer: NodeJS.Timeout | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private draining: Promise<void> | null = null;
  private wakeAgain = false;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.queues = createQueueSet(opts.redis, opts.prefix);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.listen();
    // Polling is the fallback for a NOTIFY lost while the listener reconnects.
    this.timer = setInterval(() => {
      this.wake();
      this.opts.onTick?.();
    }, this.opts.pollMs ?? 1000);
    this.wake();
  }

  /** Whether the LISTEN connection is up (for tests and diagnostics). */
  get listening(): boolean {
    return this.listener !== null;
  }

  /** Opens the LISTEN connection; on failure (or a later loss) tries again with backoff. */
  private async listen(): Promise<void> {
    this.listenTimer = null;
    if (!this.running) return;
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: OUTBOX_LISTENER_APPLICATION_NAME, connectionTimeoutMillis: 10_000 });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = null;
      client.end().catch(() => undefined);
      if (!this.running) return;
      this.opts.logger.warn({ err }, `outbox LISTEN connection lost; reconnecting in ${this.listenRetryMs} ms (polling meanwhile)`);
      this.scheduleListen();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (lost) return;
    if (!this.running) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.listenRetryMs = LISTEN_RETRY_MIN_MS;
    this.opts.logger.info('outbox LISTEN connection established');
    // Rows committed while nobody listened sent notifications nobody heard.
    this.wake();
  }

  private scheduleListen(): void {
    if (this.listenTimer || !this.running) return;
    const delay = this.listenRetryMs;
    this.listenRetryMs = Math.min(LISTEN_RETRY_MAX_MS, this.listenRetryMs * 2);
    this.listenTimer = setTimeout(() => void this.listen(), delay);
  }

  /** Starts a drain unless one is running; a wake during a drain schedules one more pass. */
  wake(): void {
    if (!this.running) return;
    if (this.draining) {
      this.wakeAgain = true;
      return;
    }
    this.draining = (async () => {
      do {
        this.wakeAgain = false;
        try {
          while (this.running && (await this.drainOnce()) > 0) {
            /* keep going while full batches come back */
          }
        } catch (err) {
          if (isDatabaseUnavailable(err)) this.opts.logger.warn({ err: (err as Error).message }, 'outbox relay: database unavailable; retrying at the next poll');
          else this.opts.logger.error({ err }, 'outbox relay pass failed; will retry');
        }
      } while (this.wakeAgain && this.running);
      this.draining = null;
    })();
  }

  /**
   * Publishes one claim of rows as batch jobs and marks them sent, with their batch, in one transaction
   * holding the row locks, so no other relay publishes these rows meanwhile. Returns how many rows it moved.
   */
  async drainOnce(): Promise<number> {
    const claimRows = this.opts.claimRows ?? 4 * (this.opts.batchSize ?? DEFAULT_BATCH_EVENTS);
    return this.opts.db.transaction().execute(async (trx) => {
      // The claim walks outbox_unsent in id order and stops at the limit. Left to itself the planner
      // chose a bitmap scan of every entry of the index and a sort (it expects fewer unsent rows than the
      // limit), and a bitmap scan never marks the entries of rows already sent as dead, so until a vacuum
      // every claim visited every row sent since the last one: ~125 ms a claim with 250,000 such entries,
      // even when it found nothing, which the relay's polling made ~35 % of a core (measured in the
      // settlement bench). An index scan marks them as it passes, and the next claim skips them.
      await sql`SET LOCAL enable_bitmapscan = off`.execute(trx);
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'event', 'queue', 'payload', 'created_at'])
        .where('sent_at', 'is', null)
        .orderBy('id')
        .limit(claimRows)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      const batches = await this.publishRows(rows);
      const ids: number[] = [];
      const batchIds: string[] = [];
      for (const b of batches) {
        for (const e of b.events) {
          ids.push(e.id);
          batchIds.push(b.jobId);
        }
      }
      await sql`
        UPDATE outbox o SET sent_at = now(), attempts = o.attempts + 1, batch_id = b.batch_id
        FROM unnest(${ids}::bigint[], ${batchIds}::text[]) AS b(id, batch_id)
        WHERE o.id = b.id`.execute(trx);
      return rows.length;
    });
  }

  /**
   * Packs rows into batches and adds them to their queues; returns the batches. Public so tests can
   * simulate a relay that dies before marking.
   */
  async publishRows(rows: readonly { id: number; event: string; queue: string; payload: unknown; created_at?: Date }[]): Promise<EventBatch[]> {
    const batches = packBatches(rows, { maxEvents: this.opts.batchSize ?? DEFAULT_BATCH_EVENTS, maxBytes: this.opts.batchBytes ?? DEFAULT_BATCH_BYTES });
    await addBatches(this.queues, batches);
    return batches;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    if (this.listenTimer) clearTimeout(this.listenTimer);
    await this.draining;
    const listener = this.listener;
    this.listener = null;
    if (listener) await listener.end().catch(() => {});
    await closeQueueSet(this.queues);
  }
}
