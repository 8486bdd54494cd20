import { sql, type Db } from '@fairlabel/db';
import { conflict, forbidden, notFound } from '@fairlabel/http';
import { publishMany } from '@fairlabel/queues';
import type { Metrics } from '@fairlabel/observability';
import type { Clock } from '@fairlabel/runtime';
import type { OutboxEvent } from '@fairlabel/queues';
import { countAssignmentDecisions } from '../decisions/metrics.js';
import { currentDecision, levelsOf, loadDecisionJob, lockTask, writeAssignmentDecisions } from '../reviews/assignment-decisions.js';
import { LEVEL_SQL } from '../reviews/reviews.service.js';

export interface AppealDeps {
  db: Db;
  clock: Clock;
  /** Decisions made by upheld appeals count in fairlabel_qa_decisions_total (source appeal). */
  metrics?: Metrics;
}

/** How long after a rejection its worker may appeal it. */
export const APPEAL_WINDOW_MS = 7 * 24 * 3600 * 1000;

const APPEAL_COLUMNS = sql`id, assignment_id, task_id, job_id, rejection_decision_id, worker_level, reason, status, comment, decision_id, created_at, decided_at`;

interface AppealRow {
  id: number;
  assignment_id: number;
  task_id: number;
  job_id: string;
  rejection_decision_id: number;
  worker_level: number;
  reason: string;
  status: 'pending' | 'upheld' | 'denied';
  comment: string | null;
  decision_id: number | null;
  created_at: Date;
  decided_at: Date | null;
}

const shaped = (r: AppealRow): AppealRow => ({
  ...r, id: Number(r.id), assignment_id: Number(r.assignment_id), task_id: Number(r.task_id), rejection_decision_id: Number(r.rejection_decision_id),
  decision_id: r.decision_id === null ? null : Number(r.decision_id),
});

/**
 * `POST /v1/assignments/:id/appeal`: the worker whose assignment is rejected (by the decision in
 * force) appeals it, once, within 7 days of that rejection. Another worker's assignment is a 404.
 * The appellant's level in the job's skill is kept with the appeal: only a higher level decides it.
 */
export async function appeal(deps: AppealDeps, workerId: string, assignmentId: number, reason: string): Promise<AppealRow> {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const a = await sql<{ id: number; task_id: number; job_id: string; vendor_id: string; client_id: string; required_skill: string | null }>`
      SELECT a.id, a.task_id, a.job_id, a.vendor_id, j.client_id, j.required_skill FROM assignments a JOIN jobs j ON j.id = a.job_id
      WHERE a.id = ${assignmentId} AND a.worker_id = ${workerId}`.execute(trx);
    const asg = a.rows[0];
    if (!asg) throw notFound('assignment');
    const current = await currentDecision(trx, assignmentId);
    if (!current || current.outcome !== 'rejected') throw conflict('not_rejected', 'only a rejected assignment can be appealed');
    const existing = await trx.selectFrom('qa_appeals').select('id').where('assignment_id', '=', assignmentId).executeTakeFirst();
    if (existing) throw conflict('already_appealed', 'this assignment was already appealed (one appeal per assignment)');
    if (now.getTime() - new Date(current.decided_at).getTime() > APPEAL_WINDOW_MS) {
      throw conflict('appeal_window_closed', `a rejection can be appealed within 7 days; this one was decided at ${new Date(current.decided_at).toISOString()}`);
    }
    // The appellant's own level (a suspension does not lower it: the decider must still outrank them).
    const level = await sql<{ level: number }>`
      SELECT coalesce(CASE WHEN ${asg.required_skill}::text IS NULL
        THEN (SELECT max(level) FROM worker_skills WHERE worker_id = ${workerId})
        ELSE (SELECT level FROM worker_skills WHERE worker_id = ${workerId} AND skill = ${asg.required_skill}::text) END, 1)::int AS level`.execute(trx);
    const ins = await sql<AppealRow>`
      INSERT INTO qa_appeals (assignment_id, rejection_decision_id, task_id, job_id, client_id, worker_id, vendor_id, worker_level, reason, created_at)
      VALUES (${assignmentId}, ${current.id}, ${asg.task_id}, ${asg.job_id}, ${asg.client_id}, ${workerId}, ${asg.vendor_id}, ${level.rows[0]!.level}, ${reason}, ${now})
      ON CONFLICT (assignment_id) DO NOTHING
      RETURNING ${APPEAL_COLUMNS}`.execute(trx);
    if (!ins.rows[0]) throw conflict('already_appealed', 'this assignment was already appealed (one appeal per assignment)');
    return shaped(ins.rows[0]);
  });
}

/** Who may decide an appeal: a worker of a higher level than the appellant's, not the appellant, and not of their vendor when the job forbids it. */
const eligible = (workerId: string) => sql<boolean>`(
  p.worker_id <> ${workerId}::uuid
  AND ${LEVEL_SQL(workerId, sql`j.required_skill`)} > p.worker_level
  AND (coalesce((j.qa_policy->>'review_same_vendor')::boolean, true) OR p.vendor_id <> (SELECT vendor_id FROM workers WHERE id = ${workerId}::uuid))
  AND EXISTS (SELECT 1 FROM workers w WHERE w.id = ${workerId}::uuid AND w.status = 'active'
              AND (j.vendor_allowlist IS NULL OR w.vendor_id = ANY(j.vendor_allowlist))
              AND (j.allowed_regions IS NULL OR w.region_country = ANY(j.allowed_regions))))`;

/** `GET /v1/appeals`: the pending appeals the caller may decide, oldest first. */
export async function appealsToDecide(deps: AppealDeps, workerId: string, limit: number): Promise<AppealRow[]> {
  const r = await sql<AppealRow>`
    SELECT p.id, p.assignment_id, p.task_id, p.job_id, p.rejection_decision_id, p.worker_level, p.reason, p.status, p.comment, p.decision_id, p.created_at, p.decided_at
    FROM qa_appeals p JOIN jobs j ON j.id = p.job_id
    WHERE p.status = 'pending' AND ${eligible(workerId)}
    ORDER BY p.id LIMIT ${limit}`.execute(deps.db);
  return r.rows.map(shaped);
}

/**
 * `POST /v1/appeals/:id/decide`. Upheld: a new `accepted` decision supersedes the rejection (same
 * kind and task decision), published as `assignment.decided` with `supersedes_decision_id`:
 * worker-assignment moves the assignment to accepted and settlement pays it. Denied: the rejection
 * stands. Under the task's QA lock, so a review completing at the same time cannot interleave; if
 * the rejection is no longer the decision in force, 409 `decision_changed`.
 */
export async function decideAppeal(deps: AppealDeps, workerId: string, appealId: number, outcome: 'upheld' | 'denied', comment: string): Promise<AppealRow> {
  const now = deps.clock.now();
  let decided: OutboxEvent[] = [];
  const row = await deps.db.transaction().execute(async (trx) => {
    const r = await sql<{ id: number; assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; status: string; rejection_decision_id: number; allowed: boolean }>`
      SELECT p.id, p.assignment_id, p.task_id, p.job_id, p.worker_id, p.vendor_id, p.status, p.rejection_decision_id, ${eligible(workerId)} AS allowed
      FROM qa_appeals p JOIN jobs j ON j.id = p.job_id WHERE p.id = ${appealId} FOR UPDATE OF p`.execute(trx);
    const p = r.rows[0];
    if (!p) throw notFound('appeal');
    if (p.worker_id === workerId) throw forbidden('nobody decides their own appeal');
    if (!p.allowed) throw forbidden('an appeal is decided by a worker of a higher level than the appellant in the job\'s skill (and of another vendor when the job asks)');
    if (p.status !== 'pending') throw conflict('appeal_decided', `this appeal was already ${p.status}`);
    let decisionId: number | null = null;
    if (outcome === 'upheld') {
      const assignmentId = Number(p.assignment_id);
      await lockTask(trx, Number(p.task_id), p.job_id);
      const current = await currentDecision(trx, assignmentId);
      if (!current || current.id !== Number(p.rejection_decision_id)) throw conflict('decision_changed', 'the appealed rejection is no longer the decision in force');
      const job = await loadDecisionJob(trx, p.job_id);
      const level = (await levelsOf(trx, [p.worker_id], job.requiredSkill)).get(p.worker_id) ?? null;
      const written = await writeAssignmentDecisions(
        trx,
        job,
        [{
          row: { assignment_id: assignmentId, task_id: Number(p.task_id), job_id: p.job_id, worker_id: p.worker_id, vendor_id: p.vendor_id, level },
          outcome: 'accepted', kind: current.kind, score: null, reason: `appeal upheld: ${comment}`, taskDecisionId: current.task_decision_id, supersedes: current.id,
        }],
        now,
      );
      decisionId = written.ids[0]!;
      await publishMany(trx, written.events);
      decided = written.events;
    }
    const u = await sql<AppealRow>`
      UPDATE qa_appeals SET status = ${outcome}, comment = ${comment}, decision_id = ${decisionId}, decided_at = ${now},
        decider_worker_id = ${workerId}, decider_vendor_id = (SELECT vendor_id FROM workers WHERE id = ${workerId})
      WHERE id = ${appealId} RETURNING ${APPEAL_COLUMNS}`.execute(trx);
    return shaped(u.rows[0]!);
  });
  countAssignmentDecisions(deps.metrics, decided, 'appeal');
  return row;
}
