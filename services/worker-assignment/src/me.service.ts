import { sql, type Db } from '@fairlabel/db';
import { notFound } from '@fairlabel/http';
import { skillsOf, toWorker } from './workers.service.js';

const EARNINGS_DAYS = 30;

/** A worker's own view: profile, skills, live leases and what their recent work is worth. */
export async function me(db: Db, workerId: string, vendorId: string, now: Date) {
  const worker = await db.selectFrom('workers').selectAll().where('id', '=', workerId).where('vendor_id', '=', vendorId).executeTakeFirst();
  if (!worker) throw notFound('worker');
  const since = new Date(now.getTime() - EARNINGS_DAYS * 86_400_000);
  const [skills, leases, earnings] = await Promise.all([
    skillsOf(db, worker.id),
    db
      .selectFrom('assignments')
      .select(['id', 'task_id', 'job_id', 'status', 'leased_at', 'lease_expires_at', 'last_heartbeat_at'])
      .where('worker_id', '=', worker.id)
      .where('status', '=', 'leased')
      .where('lease_expires_at', '>', now)
      .orderBy('lease_expires_at')
      .execute(),
    sql<{ currency: string; submitted_count: number; accepted_count: number; amount: number; time_spent_ms: number }>`
      SELECT j.currency,
             count(*) FILTER (WHERE a.status = 'submitted')::int AS submitted_count,
             count(*) FILTER (WHERE a.status = 'accepted')::int AS accepted_count,
             coalesce(sum(j.pay_per_annotation), 0)::bigint AS amount,
             coalesce(sum(a.time_spent_ms), 0)::bigint AS time_spent_ms
      FROM assignments a JOIN jobs j ON j.id = a.job_id
      WHERE a.worker_id = ${worker.id}::uuid AND a.status IN ('submitted', 'accepted') AND a.submitted_at >= ${since}::timestamptz
      GROUP BY j.currency ORDER BY j.currency
    `.execute(db),
  ]);
  return { worker: toWorker(worker), skills, leases, earnings: { since, by_currency: earnings.rows } };
}
