import { validateAnswer, type AnswerContext, type TaskTypeName } from '@fairlabel/contracts';
import { conflict, notFound, unprocessable } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import type { LeaseDeps } from './leases.service.js';

/** Facts about the item that bound a valid answer (image size for boxes, text length for spans). */
function answerContextOf(payload: unknown): AnswerContext {
  if (!payload || typeof payload !== 'object') return {};
  const p = payload as Record<string, unknown>;
  const ctx: AnswerContext = {};
  if (typeof p.image_width === 'number') ctx.image_width = p.image_width;
  if (typeof p.image_height === 'number') ctx.image_height = p.image_height;
  if (typeof p.text === 'string') ctx.text_length = p.text.length;
  return ctx;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

/**
 * The holder's answer for a live lease, validated against the job's label config, written with its
 * `assignment.submitted` event in one transaction. Submitting the same answer again returns the
 * first result (a retry after a lost response); a different answer for a submitted assignment is a
 * 409, as is any submit after the lease expired.
 */
export async function submit(deps: LeaseDeps, assignmentId: number, workerId: string, answer: unknown, timeSpentMs: number) {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const a = await trx
      .selectFrom('assignments as a')
      .innerJoin('jobs as j', 'j.id', 'a.job_id')
      .innerJoin('tasks as t', 't.id', 'a.task_id')
      .select([
        'a.id',
        'a.task_id',
        'a.job_id',
        'a.worker_id',
        'a.vendor_id',
        'a.status',
        'a.lease_expires_at',
        'a.submitted_at',
        'a.time_spent_ms',
        'j.task_type',
        'j.label_config',
        't.payload',
        'a.answer',
      ])
      .where('a.id', '=', assignmentId)
      .where('a.worker_id', '=', workerId)
      .forUpdate('a')
      .executeTakeFirst();
    if (!a) throw notFound('assignment');
    const result = (row: { answer: unknown; time_spent_ms: number | null; submitted_at: Date | null; status: string }) => ({
      id: a.id,
      task_id: a.task_id,
      job_id: a.job_id,
      status: row.status as 'submitted' | 'accepted' | 'rejected',
      answer: row.answer,
      time_spent_ms: row.time_spent_ms ?? 0,
      submitted_at: row.submitted_at!,
    });
    if (a.status === 'submitted' || a.status === 'accepted' || a.status === 'rejected') {
      // Compared after validation, as stored: a retry of the same answer matches however it was formatted.
      const again = validateAnswer(a.task_type as TaskTypeName, a.label_config, answer, answerContextOf(a.payload));
      if (canonicalJson(again.success ? again.answer : answer) === canonicalJson(a.answer)) return result(a);
      throw conflict('already_submitted', 'this assignment was already submitted with a different answer', [{ path: 'body.answer', message: 'differs from the submitted answer' }]);
    }
    if (a.status === 'expired' || (a.status === 'leased' && a.lease_expires_at <= now)) {
      throw conflict('lease_expired', `the lease expired at ${a.lease_expires_at.toISOString()}; the answer was not accepted`);
    }
    if (a.status !== 'leased') throw conflict('lease_not_active', `the assignment is ${a.status}, not leased`);

    const checked = validateAnswer(a.task_type as TaskTypeName, a.label_config, answer, answerContextOf(a.payload));
    if (!checked.success) {
      throw unprocessable(
        'invalid_answer',
        "the answer does not fit the job's label config",
        checked.issues.map((i) => ({ path: i.path ? `body.answer.${i.path}` : 'body.answer', message: i.message })),
      );
    }
    const updated = await trx
      .updateTable('assignments')
      .set({ status: 'submitted', answer: JSON.stringify(checked.answer), time_spent_ms: timeSpentMs, submitted_at: now, ended_at: now })
      .where('id', '=', a.id)
      .returning(['answer', 'time_spent_ms', 'submitted_at', 'status'])
      .executeTakeFirstOrThrow();
    await publish(trx, 'assignment.submitted', { assignment_id: a.id, task_id: a.task_id, job_id: a.job_id, worker_id: a.worker_id, vendor_id: a.vendor_id });
    return result(updated);
  });
}
