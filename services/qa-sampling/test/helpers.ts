import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import type { Seed, SeededJob, TaskRow } from '@fairlabel/testing';
import type { WorkerActor } from '@fairlabel/testing';
import type { Metrics } from '@fairlabel/observability';

/** fairlabel_qa_decisions_total by `outcome`, for one source (consumer, automation, review, appeal). */
export async function decisionsCounted(metrics: Metrics, source: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.qaDecisions.get()).values) if (v.labels.source === source && v.value > 0) out[String(v.labels.outcome)] = (out[String(v.labels.outcome)] ?? 0) + v.value;
  return out;
}

export type Submitted = EventPayload<'assignment.submitted'>;

/** A choices answer of the default classification config (control `label`). */
export const pick = (label: string) => ({ label: { choices: [label] } });

/**
 * Submitted assignments, as the submit leaves them (status submitted, answer, time), one per
 * (task, worker) with the answer `answer(task, workerIndex)`; returns the `assignment.submitted` payloads.
 */
export async function submit(
  db: Db,
  seed: Seed,
  tasks: readonly TaskRow[],
  workers: readonly WorkerActor[],
  answer: (task: TaskRow, w: number) => unknown,
  opts: { timeSpentMs?: number } = {},
): Promise<Submitted[]> {
  const out: Submitted[] = [];
  for (const [w, worker] of workers.entries()) {
    const rows = await seed.answers([...tasks], worker, { status: 'submitted', answer: (taskId) => answer(tasks.find((t) => t.id === taskId)!, w) });
    for (const a of rows) out.push({ assignment_id: a.id, task_id: a.task_id, job_id: a.job_id, worker_id: a.worker_id, vendor_id: a.vendor_id });
  }
  if (opts.timeSpentMs !== undefined) await sql`UPDATE assignments SET time_spent_ms = ${opts.timeSpentMs} WHERE id = ANY(${out.map((o) => o.assignment_id)}::bigint[])`.execute(db);
  return out;
}

export async function workersOf(seed: Seed, n: number, skills?: Record<string, number>): Promise<WorkerActor[]> {
  const vendor = await seed.vendor();
  return Promise.all(Array.from({ length: n }, () => seed.worker(vendor, skills ? { skills } : {})));
}

/** The outbox rows of `event` whose payload names this job. */
export async function eventsOf<E extends 'assignment.decided' | 'task.decided' | 'task.overlap_requested' | 'worker.skill_changed' | 'worker.job_suspended'>(db: Db, event: E, jobId?: string) {
  const rows = await sql<{ payload: EventPayload<E>; queue: string }>`
    SELECT payload, queue FROM outbox WHERE event = ${event} AND (${jobId ?? null}::text IS NULL OR payload->>'job_id' = ${jobId ?? null}) ORDER BY id`.execute(db);
  return rows.rows;
}

export async function decisionsOf(db: Db, job: Pick<SeededJob, 'id'>) {
  const tasks = await db.selectFrom('qa_task_decisions').selectAll().where('job_id', '=', job.id).orderBy('task_id').execute();
  const assignments = await db.selectFrom('qa_assignment_decisions').selectAll().where('job_id', '=', job.id).orderBy('assignment_id').execute();
  return { tasks, assignments };
}

/** `n` gold items of a job (open tasks with a gold answer), as an import with ground truth makes them. */
export async function goldTasks(db: Db, jobId: string, n: number, gold: (i: number) => unknown, required = 1) {
  const batch = Math.random().toString(36).slice(2, 8);
  return db
    .insertInto('tasks')
    .values(Array.from({ length: n }, (_, i) => ({ job_id: jobId, external_id: `gold-${batch}-${i}`, payload: JSON.stringify({ text: `gold ${i}` }), gold: JSON.stringify(gold(i)), required_annotations: required })))
    .returningAll()
    .execute();
}
