import { sql, type Db } from '@fairlabel/db';
import { notFound } from '@fairlabel/http';
import type { z } from 'zod';
import type { jobProgressSchema } from '@fairlabel/contracts';

/** The completion rate is measured over this many most recent decisions: recent enough to follow a change of pace. */
export const RATE_WINDOW_DECISIONS = 1000;
const HOUR_MS = 3_600_000;

export async function jobProgress(db: Db, clientId: string, jobId: string, now: Date): Promise<z.infer<typeof jobProgressSchema>> {
  const job = await db
    .selectFrom('jobs')
    .select(['id', 'status', 'currency', 'pay_per_annotation', 'client_price_per_item'])
    .where('id', '=', jobId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  if (!job) throw notFound('job');

  const [taskCounts, assignmentCounts, agreement, recent] = await Promise.all([
    db.selectFrom('tasks').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).where('job_id', '=', jobId).groupBy('status').execute(),
    db.selectFrom('assignments').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).where('job_id', '=', jobId).groupBy('status').execute(),
    db
      .selectFrom('tasks')
      .select((eb) => eb.fn.avg<number | null>('agreement').as('mean'))
      .where('job_id', '=', jobId)
      .where('status', '=', 'decided')
      .executeTakeFirstOrThrow(),
    sql<{ n: number; oldest: Date | null }>`
      SELECT count(*)::int AS n, min(decided_at) AS oldest FROM (
        SELECT decided_at FROM tasks
        WHERE job_id = ${jobId} AND status = 'decided' AND decided_at IS NOT NULL
        ORDER BY decided_at DESC LIMIT ${RATE_WINDOW_DECISIONS}
      ) latest`.execute(db),
  ]);
  const tasks = { total: 0, open: 0, decided: 0, cancelled: 0 };
  for (const r of taskCounts) {
    tasks[r.status] = Number(r.n);
    tasks.total += Number(r.n);
  }
  const assignments = { leased: 0, submitted: 0, accepted: 0, rejected: 0 };
  for (const r of assignmentCounts) if (r.status in assignments) assignments[r.status as keyof typeof assignments] = Number(r.n);

  const { n, oldest } = recent.rows[0] ?? { n: 0, oldest: null };
  let ratePerHour: number | null = null;
  let eta: Date | null = null;
  if (n > 0 && oldest) {
    // At least a minute of span, so one decision a second ago does not extrapolate to 3,600 an hour.
    const spanMs = Math.max(now.getTime() - oldest.getTime(), 60_000);
    ratePerHour = (n * HOUR_MS) / spanMs;
    if (tasks.open > 0) eta = new Date(now.getTime() + (tasks.open / ratePerHour) * HOUR_MS);
  }
  return {
    job_id: job.id,
    status: job.status,
    tasks,
    assignments,
    agreement: agreement.mean === null ? null : Number(agreement.mean),
    cost: {
      currency: job.currency,
      // bigint: a count times a price may pass 2^53.
      client_charges: (BigInt(tasks.decided) * BigInt(job.client_price_per_item)).toString(),
      worker_pay: (BigInt(assignments.accepted) * BigInt(job.pay_per_annotation)).toString(),
    },
    rate_per_hour: ratePerHour,
    eta,
  };
}
