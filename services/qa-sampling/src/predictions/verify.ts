import { predictionQualifies as qualifies } from '@fairlabel/contracts';
import { sql, type Database } from '@fairlabel/db';
import type { OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { clamp01 } from '../decisions/consensus.js';
import type { DecisionJob, SubmissionContext } from '../decisions/decide.service.js';
import { judgeUndecided, levelsOf, writeAssignmentDecisions, writeTaskDecision } from '../reviews/assignment-decisions.js';

type Trx = Transaction<Database>;

/** A prediction counts for the job's prediction_mode when it is there and at or above the threshold. */
export const predictionQualifies = (job: DecisionJob, confidence: number | null): boolean => qualifies(confidence, job.policy.predictionThreshold);

/** The annotations a disputed verify task needs: the job's overlap, and at least two (a lone human does not overrule the model unseen). */
export const disputedOverlap = (job: DecisionJob): number => Math.max(job.overlap, 2);

/**
 * prediction_mode `verify`, called by the consumer (decide.service) before consensus, in its
 * transaction: on an undecided open task whose prediction qualifies, the first new answer that agrees
 * with the prediction (the job's comparison passes) confirms it. The task is decided with the
 * prediction as its result (method `automation`, not automated: a human confirmed it), the confirming
 * assignment is accepted as `verify` work (settlement pays the job's verify rate), and the task's other
 * recorded answers are judged against it. An answer that disagrees counts toward ordinary consensus:
 * task-dispatch imports such a task with ONE slot (predictionQualifies, in contracts), so the dispute
 * asks for the job's overlap, at least two (task.overlap_requested, disputedOverlap): a lone human does
 * not overrule the model unseen, the task gets the crowd an unpredicted task gets, and a later answer
 * that agrees with the model can still confirm it.
 * Locks the tasks' qa_tasks rows in task order: the same set, in the same order, as consensus next.
 */
export async function verifyPredictions(trx: Trx, subs: readonly SubmissionContext[], touchedTaskIds: readonly number[], jobs: ReadonlyMap<string, DecisionJob>, now: Date): Promise<OutboxEvent[]> {
  const verifying = subs.filter((s) => s.submitted && jobs.get(s.jobId)!.policy.predictionMode === 'verify');
  if (verifying.length === 0) return [];
  const tasks = (
    await sql<{ task_id: number; job_id: string; prediction: unknown; prediction_confidence: number | null; status: string; required_annotations: number; decision_id: number | null; submissions: number; overlap_requested: number | null }>`
      SELECT q.task_id, q.job_id, t.prediction, t.prediction_confidence, t.status, t.required_annotations, q.decision_id, q.submissions, q.overlap_requested
      FROM qa_tasks q JOIN tasks t ON t.id = q.task_id
      WHERE q.task_id = ANY(${[...touchedTaskIds]}::bigint[])
      ORDER BY q.task_id
      FOR UPDATE OF q`.execute(trx)
  ).rows;
  const events: OutboxEvent[] = [];
  for (const t of tasks) {
    const taskId = Number(t.task_id);
    const job = jobs.get(t.job_id)!;
    if (job.policy.predictionMode !== 'verify' || t.decision_id !== null || t.status !== 'open' || t.prediction === null || !predictionQualifies(job, t.prediction_confidence)) continue;
    const mine = verifying.filter((s) => s.taskId === taskId).sort((a, b) => a.assignmentId - b.assignmentId);
    const judged = mine.map((s) => ({ s, c: compareAnswers(job.controls, s.answer as Answer, t.prediction as Answer) }));
    const confirm = judged.find((j) => j.c.pass);
    if (!confirm) {
      const required = Math.max(t.required_annotations, t.overlap_requested ?? 0);
      const disputed = disputedOverlap(job);
      if (required < disputed) {
        // Set before consensus reads the task (same transaction), so the lone answer does not decide it.
        await sql`UPDATE qa_tasks SET overlap_requested = ${disputed}, updated_at = ${now} WHERE task_id = ${taskId}`.execute(trx);
        events.push({ event: 'task.overlap_requested', payload: { task_id: taskId, job_id: job.id, required_annotations: disputed } });
      }
      continue;
    }
    const decisionId = await writeTaskDecision(
      trx, job,
      { taskId, result: t.prediction, agreement: clamp01(confirm.c.score), confidence: t.prediction_confidence ?? 1, method: 'automation', automated: false, annotations: t.submissions },
      now,
    );
    const s = confirm.s;
    const level = (await levelsOf(trx, [s.workerId], job.requiredSkill)).get(s.workerId) ?? null;
    const verified = await writeAssignmentDecisions(
      trx, job,
      [{
        row: { assignment_id: s.assignmentId, task_id: taskId, job_id: job.id, worker_id: s.workerId, vendor_id: s.vendorId, level },
        outcome: 'accepted', kind: 'verify', score: clamp01(confirm.c.score), reason: 'confirms the model\'s prediction', taskDecisionId: decisionId, supersedes: null,
      }],
      now,
    );
    const others = await judgeUndecided(trx, job, taskId, decisionId, t.prediction, 'judged against the confirmed prediction', now, new Set([s.assignmentId]));
    events.push(...verified.events, ...others.events, {
      event: 'task.decided',
      payload: {
        task_id: taskId, job_id: job.id, client_id: job.clientId, decision_id: decisionId, agreement: clamp01(confirm.c.score), automated: false,
        accepted_assignment_ids: [s.assignmentId, ...others.accepted], rejected_assignment_ids: others.rejected, decided_at: now.toISOString(),
      },
    });
  }
  return events;
}
