import type { CompleteReviewBody, EventPayload } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { conflict, notFound } from '@fairlabel/http';
import { publishMany, type OutboxEvent } from '@fairlabel/queues';
import type { Metrics } from '@fairlabel/observability';
import type { Clock } from '@fairlabel/runtime';
import { countAssignmentDecisions } from '../decisions/metrics.js';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { clamp01 } from '../decisions/consensus.js';
import { currentDecision, judgeUndecided, levelsOf, loadDecisionJob, lockTask, writeAssignmentDecisions, writeTaskDecision } from './assignment-decisions.js';
import { validateCorrection } from './validate-answer.js';

export interface ReviewDeps {
  db: Db;
  clock: Clock;
  /** Decisions made by reviews count in fairlabel_qa_decisions_total (source review). */
  metrics?: Metrics;
}

/**
 * The level a worker has for a job's purposes: their level in its required skill (none: not
 * eligible), or for a job without one their highest level in any skill (1 without skills). A
 * suspended skill counts as none. Used for reviewers and appeal deciders alike.
 */
export const LEVEL_SQL = (workerId: string, requiredSkill: unknown) => sql<number | null>`(
  CASE WHEN ${requiredSkill}::text IS NULL
    THEN coalesce((SELECT max(ws.level) FROM worker_skills ws WHERE ws.worker_id = ${workerId}::uuid AND ws.suspended_at IS NULL), 1)
    ELSE (SELECT ws.level FROM worker_skills ws WHERE ws.worker_id = ${workerId}::uuid AND ws.skill = ${requiredSkill}::text AND ws.suspended_at IS NULL) END)`;

interface ReviewRow {
  id: number;
  assignment_id: number;
  task_id: number;
  job_id: string;
  status: 'leased' | 'completed';
  payload: unknown;
  instructions: string;
  label_config: unknown;
  answer: unknown;
  leased_at: Date;
  lease_expires_at: Date;
}

/**
 * `POST /v1/reviews/next`: the oldest review this worker may do, leased to them for the job's lease
 * time. Eligible: the job is active or completed (a sample taken just before the last decision is
 * still reviewed), the worker is active, allowed on the job (vendor allow-list, regions) and at or
 * above the job's reviewer_level in its skill; never their own work, never a task they annotated,
 * and not their own vendor's work when the job says review_same_vendor: false. A review whose lease
 * ran out is back in the pool (no sweeper needed: the claim takes pending and expired alike).
 * SKIP LOCKED: concurrent reviewers never wait on, or get, the same review.
 */
export async function nextReview(deps: ReviewDeps, workerId: string): Promise<ReviewRow | null> {
  const now = deps.clock.now();
  const r = await sql<ReviewRow>`
    WITH me AS (SELECT w.id, w.vendor_id, w.region_country FROM workers w WHERE w.id = ${workerId} AND w.status = 'active'),
    pick AS (
      SELECT r.id, j.lease_seconds FROM qa_reviews r JOIN jobs j ON j.id = r.job_id, me
      WHERE r.status <> 'completed' AND (r.status = 'pending' OR r.lease_expires_at <= ${now})
        AND j.status IN ('active', 'completed')
        AND r.worker_id <> me.id
        AND (j.vendor_allowlist IS NULL OR me.vendor_id = ANY(j.vendor_allowlist))
        AND (j.allowed_regions IS NULL OR me.region_country = ANY(j.allowed_regions))
        AND (coalesce((j.qa_policy->>'review_same_vendor')::boolean, true) OR r.vendor_id <> me.vendor_id)
        AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = r.task_id AND a.worker_id = me.id)
        AND ${LEVEL_SQL(workerId, sql`j.required_skill`)} >= coalesce((j.qa_policy->>'reviewer_level')::int, 2)
      ORDER BY r.id
      LIMIT 1
      FOR UPDATE OF r SKIP LOCKED
    ), leased AS (
      UPDATE qa_reviews r SET status = 'leased', reviewer_worker_id = me.id, reviewer_vendor_id = me.vendor_id, leased_at = ${now},
        lease_expires_at = ${now}::timestamptz + make_interval(secs => pick.lease_seconds), last_heartbeat_at = NULL
      FROM pick, me WHERE r.id = pick.id
      RETURNING r.id, r.assignment_id, r.task_id, r.job_id, r.status, r.leased_at, r.lease_expires_at
    )
    SELECT l.id, l.assignment_id, l.task_id, l.job_id, l.status, l.leased_at, l.lease_expires_at, t.payload, j.instructions, j.label_config, a.answer
    FROM leased l JOIN tasks t ON t.id = l.task_id JOIN jobs j ON j.id = l.job_id JOIN assignments a ON a.id = l.assignment_id`.execute(deps.db);
  const row = r.rows[0];
  return row ? { ...row, id: Number(row.id), assignment_id: Number(row.assignment_id), task_id: Number(row.task_id) } : null;
}

/** `POST /v1/reviews/:id/heartbeat`: extends the caller's live lease by the job's lease time. */
export async function heartbeatReview(deps: ReviewDeps, workerId: string, reviewId: number) {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const r = await sql<{ id: number; status: string; lease_expires_at: Date; reviewer_worker_id: string; lease_seconds: number }>`
      SELECT r.id, r.status, r.lease_expires_at, r.reviewer_worker_id, j.lease_seconds FROM qa_reviews r JOIN jobs j ON j.id = r.job_id
      WHERE r.id = ${reviewId} AND r.reviewer_worker_id = ${workerId} FOR UPDATE OF r`.execute(trx);
    const row = r.rows[0];
    if (!row) throw notFound('review');
    refuseDeadLease(row, now);
    const u = await sql<{ id: number; status: 'leased'; lease_expires_at: Date; last_heartbeat_at: Date | null }>`
      UPDATE qa_reviews SET lease_expires_at = ${now}::timestamptz + make_interval(secs => ${row.lease_seconds}), last_heartbeat_at = ${now}
      WHERE id = ${reviewId} RETURNING id, status, lease_expires_at, last_heartbeat_at`.execute(trx);
    return { ...u.rows[0]!, id: Number(u.rows[0]!.id) };
  });
}

function refuseDeadLease(row: { status: string; lease_expires_at: Date }, now: Date): void {
  if (row.status === 'completed') throw conflict('review_completed', 'this review is already completed');
  if (row.lease_expires_at.getTime() <= now.getTime()) {
    throw conflict('lease_expired', `the review lease expired at ${row.lease_expires_at.toISOString()}; ask for the next review`);
  }
}

const OUTCOME = { accept: 'accepted', reject: 'rejected', correct: 'corrected' } as const;

/**
 * `POST /v1/reviews/:id/complete`. What a review decides (README "Quality"):
 * - accept / reject: the reviewed assignment is accepted / rejected. When consensus decided it
 *   otherwise, the review's decision supersedes that one (settlement reverses or pays the difference);
 *   when consensus has not decided it yet, the review's is its first decision: an accepted answer still
 *   votes in the task's consensus (and keeps its decision), a rejected one is taken out of the task's
 *   count, so the task waits for another annotation.
 * - correct: the corrected answer (valid for the label config) is the reference: the worker's answer is
 *   judged against it with the job's comparison (accepted if it passes). If the task has no decision
 *   yet, the correction decides it (method `review`, its result the corrected answer) and the task's
 *   other recorded answers are judged against it; a task already decided keeps its result.
 * Every outcome publishes `review.completed` (settlement pays the reviewer the job's review rate).
 * The qa_tasks row lock serializes this with the consumer's decisions on the task.
 */
export async function completeReview(deps: ReviewDeps, workerId: string, reviewId: number, body: CompleteReviewBody) {
  const now = deps.clock.now();
  const { result, events } = await deps.db.transaction().execute(async (trx) => {
    const r = await sql<{
      id: number; assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; status: string; lease_expires_at: Date;
      reviewer_vendor_id: string; answer: unknown;
    }>`
      SELECT r.id, r.assignment_id, r.task_id, r.job_id, r.worker_id, r.vendor_id, r.status, r.lease_expires_at, r.reviewer_vendor_id, a.answer
      FROM qa_reviews r JOIN assignments a ON a.id = r.assignment_id
      WHERE r.id = ${reviewId} AND r.reviewer_worker_id = ${workerId} FOR UPDATE OF r`.execute(trx);
    const review = r.rows[0];
    if (!review) throw notFound('review');
    refuseDeadLease(review, now);
    const assignmentId = Number(review.assignment_id);
    const taskId = Number(review.task_id);
    const job = await loadDecisionJob(trx, review.job_id);
    let corrected: unknown = null;
    if (body.outcome === 'correct') {
      const item = await sql<{ label_config: unknown; payload: unknown }>`
        SELECT j.label_config, t.payload FROM jobs j JOIN tasks t ON t.job_id = j.id WHERE t.id = ${taskId}`.execute(trx);
      corrected = validateCorrection(item.rows[0]!.label_config, item.rows[0]!.payload, body.corrected_answer);
    }

    const task = await lockTask(trx, taskId, review.job_id);
    const current = await currentDecision(trx, assignmentId);
    let score: number | null = null;
    let outcome: 'accepted' | 'rejected';
    if (corrected !== null) {
      const c = compareAnswers(job.controls, review.answer as Answer, corrected as Answer);
      score = clamp01(c.score);
      outcome = c.pass ? 'accepted' : 'rejected';
    } else {
      outcome = body.outcome === 'accept' ? 'accepted' : 'rejected';
    }

    const events: OutboxEvent[] = [];
    let taskDecisionId: number | null = current?.task_decision_id ?? null;
    let taskDecided = false;
    if (corrected !== null && task.decision_id === null) {
      taskDecisionId = await writeTaskDecision(trx, job, { taskId, result: corrected, agreement: score ?? 0, confidence: 1, method: 'review', automated: false, annotations: task.submissions }, now);
      taskDecided = true;
    }
    let decisionId: number | null = null;
    if (current === null || current.outcome !== outcome) {
      const level = (await levelsOf(trx, [review.worker_id], job.requiredSkill)).get(review.worker_id) ?? null;
      const reason = `${OUTCOME[body.outcome]} by review${body.comment ? `: ${body.comment}` : ''}`;
      const written = await writeAssignmentDecisions(
        trx,
        job,
        [{
          row: { assignment_id: assignmentId, task_id: taskId, job_id: review.job_id, worker_id: review.worker_id, vendor_id: review.vendor_id, level },
          outcome, kind: current?.kind ?? 'annotation', score, reason, taskDecisionId, supersedes: current?.id ?? null,
        }],
        now,
      );
      decisionId = written.ids[0]!;
      events.push(...written.events);
      // Rejected before its task was decided: it no longer counts toward the task, which waits for
      // another annotation (worker-assignment gives the slot back), as for a suspended worker's work.
      if (current === null && outcome === 'rejected' && task.decision_id === null && !taskDecided) {
        await sql`UPDATE qa_tasks SET submissions = greatest(submissions - 1, 0), updated_at = ${now} WHERE task_id = ${taskId}`.execute(trx);
      }
    }
    if (taskDecided) {
      const others = await judgeUndecided(trx, job, taskId, taskDecisionId!, corrected, 'judged against a reviewer\'s correction', now, new Set([assignmentId]));
      events.push(...others.events);
      events.push({
        event: 'task.decided',
        payload: {
          task_id: taskId, job_id: job.id, client_id: job.clientId, decision_id: taskDecisionId!, agreement: score ?? 0, automated: false,
          accepted_assignment_ids: [...(outcome === 'accepted' ? [assignmentId] : []), ...others.accepted],
          rejected_assignment_ids: [...(outcome === 'rejected' ? [assignmentId] : []), ...others.rejected],
          decided_at: now.toISOString(),
        },
      });
    }
    await sql`
      UPDATE qa_reviews SET status = 'completed', outcome = ${OUTCOME[body.outcome]}, comment = ${body.comment}, corrected_answer = ${corrected === null ? null : JSON.stringify(corrected)}::jsonb,
        time_spent_ms = ${body.time_spent_ms ?? null}, decision_id = ${decisionId}, task_decision_id = ${taskDecided ? taskDecisionId : null}, completed_at = ${now}
      WHERE id = ${reviewId}`.execute(trx);
    const completed: EventPayload<'review.completed'> = {
      review_id: reviewId, reviewer_worker_id: workerId, reviewer_vendor_id: review.reviewer_vendor_id, assignment_id: assignmentId, job_id: job.id,
      client_id: job.clientId, outcome: OUTCOME[body.outcome], completed_at: now.toISOString(),
      ...(body.time_spent_ms !== undefined ? { time_spent_ms: body.time_spent_ms } : {}),
    };
    events.push({ event: 'review.completed', payload: completed });
    await publishMany(trx, events);
    const result = {
      id: reviewId, assignment_id: assignmentId, status: 'completed' as const, outcome: OUTCOME[body.outcome], assignment_outcome: outcome,
      decision_id: decisionId, task_decided: taskDecided, completed_at: now,
    };
    return { result, events };
  });
  countAssignmentDecisions(deps.metrics, events, 'review');
  return result;
}
