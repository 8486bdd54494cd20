import type { Redis } from 'ioredis';
import type { Logger } from '@fairlabel/observability';

/** The pub/sub channel that says "slots may have opened": new tasks, activation, expiry, release. */
export function slotsChannel(prefix: string): string {
  return `${prefix}:worker-assignment:slots`;
}

/** Tells every gateway process that work may be claimable now. Best effort: waiters also re-poll. */
export async function announceSlots(redis: Redis, prefix: string, jobId: string, logger?: Logger): Promise<void> {
  try {
    await redis.publish(slotsChannel(prefix), jobId);
  } catch (err) {
    logger?.warn({ err }, 'could not announce freed slots; long-polling claimers will find them on their next poll');
  }
}

/**
 * Long-poll waiters of one process, woken by messages on the slots channel. One dedicated subscriber
 * connection per process (a subscribed ioredis connection can run no other command), opened on the
 * first wait. Every message wakes every waiter: each retries its claim, and SKIP LOCKED sorts out who
 * gets the slot.
 */
export class SlotWakeups {
  private subscriber: Redis | null = null;
  private ready: Promise<void> | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  private subscribe(): Promise<void> {
    if (!this.ready) {
      const sub = this.redis.duplicate();
      this.subscriber = sub;
      sub.on('error', (err) => this.logger.warn({ err }, 'slot wake-up subscriber error'));
      sub.on('message', () => this.wakeAll());
      this.ready = sub.subscribe(slotsChannel(this.prefix)).then(() => undefined);
    }
    return this.ready;
  }

  private wakeAll(): void {
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const wake of woken) wake();
  }

  /** Resolves on the next announcement or after `ms`, whichever is first. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    await this.subscribe();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.wakeAll();
    const sub = this.subscriber;
    this.subscriber = null;
    this.ready = null;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
