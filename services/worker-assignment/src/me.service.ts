import { sql, type Db } from '@fairlabel/db';
import { notFound } from '@fairlabel/http';
import { skillsOf, toWorker } from './workers.service.js';

/**
 * A worker's own view: profile, skills, live leases and earnings. Earnings come from settlement's
 * ledger through its `st_worker_earnings` view (a read of settlement's tables, one definition shared
 * with settlement's GET /v1/me/earnings, so both always agree); submitted work QA has not decided yet
 * is counted, not valued.
 */
export async function me(db: Db, workerId: string, vendorId: string, now: Date) {
  const worker = await db.selectFrom('workers').selectAll().where('id', '=', workerId).where('vendor_id', '=', vendorId).executeTakeFirst();
  if (!worker) throw notFound('worker');
  const [skills, leases, ledger, awaiting] = await Promise.all([
    skillsOf(db, worker.id),
    db
      .selectFrom('assignments')
      .select(['id', 'task_id', 'job_id', 'status', 'leased_at', 'lease_expires_at', 'last_heartbeat_at'])
      .where('worker_id', '=', worker.id)
      .where('status', '=', 'leased')
      .where('lease_expires_at', '>', now)
      .orderBy('lease_expires_at')
      .execute(),
    db.selectFrom('st_worker_earnings').select(['currency', 'pending', 'approved', 'paid']).where('worker_id', '=', worker.id).orderBy('currency').execute(),
    sql<{ currency: string; submitted_count: number; time_spent_ms: number }>`
      SELECT j.currency, count(*)::int AS submitted_count, coalesce(sum(a.time_spent_ms), 0)::bigint AS time_spent_ms
      FROM assignments a JOIN jobs j ON j.id = a.job_id
      WHERE a.worker_id = ${worker.id}::uuid AND a.status = 'submitted'
      GROUP BY j.currency ORDER BY j.currency
    `.execute(db),
  ]);
  return { worker: toWorker(worker), skills, leases, earnings: { by_currency: ledger, awaiting_qa: awaiting.rows } };
}
