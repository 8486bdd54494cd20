import pg from 'pg';
import type { Redis } from 'ioredis';
import { sql, type Db } from '@fairlabel/db';
import type { Logger } from '@fairlabel/observability';
import type { QueueName } from '@fairlabel/contracts';
import { OUTBOX_CHANNEL } from './publish.js';
import { createQueueSet, closeQueueSet, outboxJobId, type QueueSet } from './queue-set.js';

export interface OutboxRelayOptions {
  db: Db;
  databaseUrl: string;
  redis: Redis;
  prefix: string;
  logger: Logger;
  pollMs?: number;
  batchSize?: number;
}

/**
 * Moves committed outbox rows to BullMQ. Rows are claimed with FOR UPDATE SKIP LOCKED, so any number
 * of relays can run; each row is added with its outbox id as the BullMQ job id, so a row published
 * twice (a relay killed after adding but before marking) is one job. The consumer's own idempotency
 * guards the case where the first job already completed and was cleaned up.
 */
export class OutboxRelay {
  private readonly queues: QueueSet;
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private draining: Promise<void> | null = null;
  private wakeAgain = false;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.queues = createQueueSet(opts.redis, opts.prefix);
  }

  async start(): Promise<void> {
    this.running = true;
    this.listener = new pg.Client({ connectionString: this.opts.databaseUrl });
    this.listener.on('error', (err) => this.opts.logger.warn({ err }, 'outbox LISTEN connection failed; polling continues'));
    await this.listener.connect();
    this.listener.on('notification', () => this.wake());
    await this.listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
    // Polling is the fallback for a NOTIFY lost while the listener reconnects.
    this.timer = setInterval(() => this.wake(), this.opts.pollMs ?? 1000);
    this.wake();
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
          this.opts.logger.error({ err }, 'outbox relay pass failed; will retry');
        }
      } while (this.wakeAgain && this.running);
      this.draining = null;
    })();
  }

  /**
   * Publishes one batch and marks it sent, in one transaction holding the row locks, so no other
   * relay publishes these rows meanwhile. Returns how many rows it moved.
   */
  async drainOnce(): Promise<number> {
    const batchSize = this.opts.batchSize ?? 500;
    return this.opts.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'event', 'queue', 'payload'])
        .where('sent_at', 'is', null)
        .orderBy('id')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      await this.publishRows(rows);
      await trx
        .updateTable('outbox')
        .set({ sent_at: sql<Date>`now()`, attempts: sql<number>`attempts + 1` })
        .where('id', 'in', rows.map((r) => r.id))
        .execute();
      return rows.length;
    });
  }

  /** Adds rows to their queues. Public so tests can simulate a relay that dies before marking. */
  async publishRows(rows: { id: number; event: string; queue: string; payload: unknown }[]): Promise<void> {
    const byQueue = new Map<string, typeof rows>();
    for (const r of rows) byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
    for (const [queue, items] of byQueue) {
      const q = this.queues[queue as QueueName];
      if (!q) throw new Error(`outbox row for unknown queue ${queue}`);
      await q.addBulk(items.map((r) => ({ name: r.event, data: r.payload, opts: { jobId: outboxJobId(r.id) } })));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    await this.draining;
    if (this.listener) await this.listener.end().catch(() => {});
    await closeQueueSet(this.queues);
  }
}
