import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobSchedulers, type JobSchedulerSpec } from '../schedulers.js';
import type { ReconcileSource } from './reconciler.js';

/** Upserts a job scheduler (idempotent: every replica and the reconciler may call it). */
export async function ensureJobScheduler(queue: Queue, spec: JobSchedulerSpec): Promise<void> {
  await queue.upsertJobScheduler(spec.id, { every: spec.everyMs }, spec.template);
}

/**
 * Repeatable jobs (lease expiry...): a schedule whose definition or whose next job Redis lost is
 * upserted again, so a flush does not stop lease expiry until worker-assignment restarts.
 */
export function schedulersSource(opts: { redis: Redis; prefix: string; schedulers?: readonly JobSchedulerSpec[] }): ReconcileSource {
  const specs = opts.schedulers ?? jobSchedulers;
  const queues = new Map(specs.map((s) => [s.queue, new Queue(s.queue, { connection: opts.redis, prefix: opts.prefix })]));
  return {
    kind: 'scheduler',
    async repair() {
      let repaired = 0;
      for (const spec of specs) {
        const queue = queues.get(spec.queue)!;
        const current = await queue.getJobScheduler(spec.id);
        // The scheduler fires by its next job (`repeat:<id>:<next>`, delayed until due): without it, nothing runs.
        const intact =
          current !== undefined && current !== null && typeof current.next === 'number' && (await opts.redis.exists(queue.toKey(`repeat:${spec.id}:${current.next}`))) === 1;
        if (intact) continue;
        await ensureJobScheduler(queue, spec);
        repaired++;
      }
      return repaired;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
