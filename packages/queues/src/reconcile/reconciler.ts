import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Db } from '@fairlabel/db';
import type { Logger } from '@fairlabel/observability';

/**
 * Postgres is the truth; Redis only holds what should happen next. The reconciler compares, for each
 * kind of thing that must be queued, what Postgres says with what Redis holds, and re-publishes what
 * is missing. Every re-publication uses the deterministic job id of the original, so an item still in
 * Redis is never duplicated, and consumers are idempotent for an item that was already consumed.
 *
 * It runs at start, every RECONCILE_INTERVAL_MS, and at once when Redis was emptied: it keeps a marker
 * key that a FLUSHALL (or a failover to an empty replica) removes, and checks for it every second.
 */
export interface ReconcileSource {
  /** Metric label: `fairlabel_reconciler_repaired_total{kind}`. */
  kind: string;
  /** Re-publishes what Postgres says must be queued and Redis lacks; returns how many items it re-published. */
  repair(ctx: ReconcileContext): Promise<number>;
  close?(): Promise<void>;
}

export interface ReconcileContext {
  db: Db;
  redis: Redis;
  prefix: string;
  logger: Logger;
  now: Date;
}

export type ReconcileTrigger = 'start' | 'interval' | 'flush' | 'manual';

export interface ReconcilerOptions {
  db: Db;
  redis: Redis;
  prefix: string;
  logger: Logger;
  sources: ReconcileSource[];
  intervalMs: number;
  /** How often the marker key is checked (the relay's poll interval). */
  markerCheckMs?: number;
  registry?: Registry;
  now?: () => Date;
}

export const reconcilerMarkerKey = (prefix: string) => `${prefix}:reconciler:marker`;
/**
 * What the reconcilers of a stack have done, for the ops overview (which runs in the gateway and cannot
 * read the relay's Prometheus counters): the last pass and the items re-published per kind since Redis
 * last lost this key. Prometheus's `fairlabel_reconciler_repaired_total` keeps the full history.
 */
export const reconcilerStatsKey = (prefix: string) => `${prefix}:reconciler:stats`;

export interface ReconcilerStats {
  lastRunAt: Date | null;
  lastTrigger: string | null;
  lastRepaired: Record<string, number>;
  repairedTotal: Record<string, number>;
}

export async function readReconcilerStats(redis: Redis, prefix: string): Promise<ReconcilerStats> {
  const h = await redis.hgetall(reconcilerStatsKey(prefix));
  const repairedTotal: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) if (field.startsWith('repaired:')) repairedTotal[field.slice('repaired:'.length)] = Number(value);
  let lastRepaired: Record<string, number> = {};
  try {
    lastRepaired = h.last_repaired ? (JSON.parse(h.last_repaired) as Record<string, number>) : {};
  } catch {
    /* written by us; an unreadable value is shown as nothing */
  }
  return { lastRunAt: h.last_run_at ? new Date(h.last_run_at) : null, lastTrigger: h.last_trigger ?? null, lastRepaired, repairedTotal };
}

export class Reconciler {
  private readonly repaired: Counter<'kind'>;
  private readonly runs: Counter<'trigger'>;
  private readonly failures: Counter<'kind'>;
  private running: Promise<Record<string, number>> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private checkingMarker = false;
  private stopped = false;
  /** The marker means something only once this reconciler has set it. */
  private markerSet = false;

  constructor(private readonly opts: ReconcilerOptions) {
    const registers = opts.registry ? [opts.registry] : [];
    this.repaired = new Counter({
      name: 'fairlabel_reconciler_repaired_total',
      help: 'Items Postgres says must be queued that Redis had lost, re-published by the reconciler, by kind',
      labelNames: ['kind'] as const,
      registers,
    });
    this.runs = new Counter({ name: 'fairlabel_reconciler_runs_total', help: 'Reconciler passes by trigger', labelNames: ['trigger'] as const, registers });
    this.failures = new Counter({ name: 'fairlabel_reconciler_failures_total', help: 'Reconciler passes of a kind that failed (retried at the next pass)', labelNames: ['kind'] as const, registers });
    for (const s of opts.sources) {
      this.repaired.inc({ kind: s.kind }, 0);
      this.failures.inc({ kind: s.kind }, 0);
    }
  }

  get markerKey(): string {
    return reconcilerMarkerKey(this.opts.prefix);
  }

  /** A pass now, then one every intervalMs, and one whenever the marker disappears. */
  start(): void {
    this.stopped = false;
    this.trigger('start');
    this.timers.push(setInterval(() => this.trigger('interval'), this.opts.intervalMs));
    this.timers.push(setInterval(() => void this.checkMarker(), this.opts.markerCheckMs ?? 1000));
  }

  private trigger(trigger: ReconcileTrigger): void {
    this.run(trigger).catch((err: unknown) => this.opts.logger.error({ err, trigger }, 'reconciler pass failed'));
  }

  /**
   * Whether Redis still holds the marker; when it does not, Redis was emptied since the last pass, and
   * a pass runs now. Returns whether a flush was detected.
   */
  async checkMarker(): Promise<boolean> {
    if (this.checkingMarker || this.running || this.stopped || !this.markerSet) return false;
    this.checkingMarker = true;
    try {
      if ((await this.opts.redis.exists(this.markerKey)) === 1) return false;
      this.opts.logger.warn('the reconciler marker is gone from Redis (flushed, or an empty replica took over): reconciling now');
      this.trigger('flush');
      return true;
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not check the reconciler marker');
      return false;
    } finally {
      this.checkingMarker = false;
    }
  }

  /** One pass over every source; a pass already running is joined, not doubled. Returns items re-published per kind. */
  run(trigger: ReconcileTrigger = 'manual'): Promise<Record<string, number>> {
    this.running ??= this.pass(trigger).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(trigger: ReconcileTrigger): Promise<Record<string, number>> {
    this.runs.inc({ trigger });
    // Set first: anything Redis loses after this moment removes the marker again and is caught next time.
    // Read as it is set: a marker that was not there means this pass follows a loss of Redis's data (or
    // is the first pass on a new Redis), and its outcome is reported even when nothing had been lost.
    const markerWas = await this.opts.redis.set(this.markerKey, new Date().toISOString(), 'GET');
    const afterLoss = trigger === 'flush' || markerWas === null;
    this.markerSet = true;
    const ctx: ReconcileContext = {
      db: this.opts.db,
      redis: this.opts.redis,
      prefix: this.opts.prefix,
      logger: this.opts.logger,
      now: this.opts.now?.() ?? new Date(),
    };
    const result: Record<string, number> = {};
    for (const source of this.opts.sources) {
      try {
        const n = await source.repair(ctx);
        result[source.kind] = n;
        this.repaired.inc({ kind: source.kind }, n);
      } catch (err) {
        this.failures.inc({ kind: source.kind });
        this.opts.logger.warn({ err, kind: source.kind }, 'reconciler could not check this kind; retrying at the next pass');
      }
    }
    await this.recordPass(trigger, ctx.now, result).catch((err: unknown) => this.opts.logger.warn({ err }, 'could not record the reconciler pass for the ops overview'));
    const total = Object.values(result).reduce((a, b) => a + b, 0);
    if (total > 0) this.opts.logger.warn({ trigger, repaired: result }, 'reconciler re-published items Redis had lost');
    // After a loss the operator who read "the marker is gone" wants to know how it ended, also when
    // nothing was missing (the processes had put everything back themselves, or nothing was queued).
    else if (afterLoss) this.opts.logger.warn({ trigger, repaired: result }, 'reconciler re-published nothing: Redis was missing nothing Postgres says must be queued');
    else this.opts.logger.debug({ trigger }, 'reconciler: Redis holds everything Postgres says must be queued');
    return result;
  }

  private async recordPass(trigger: ReconcileTrigger, at: Date, result: Record<string, number>): Promise<void> {
    const key = reconcilerStatsKey(this.opts.prefix);
    const m = this.opts.redis.multi().hset(key, { last_run_at: at.toISOString(), last_trigger: trigger, last_repaired: JSON.stringify(result) });
    for (const [kind, n] of Object.entries(result)) m.hincrby(key, `repaired:${kind}`, n);
    await m.exec();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.running?.catch(() => undefined);
    for (const s of this.opts.sources) await s.close?.();
  }
}
