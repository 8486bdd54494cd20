import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Database } from '@fairlabel/db';
import type { OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { clamp01 } from '../decisions/consensus.js';
import { allocateIds, assignmentDecision, type DecisionJob } from '../decisions/rows.js';
import { controlsOf, resolvePolicy, skillOf } from '../decisions/policy.js';

type Trx = Transaction<Database>;

/**
 * Decisions made outside the consumer's batches (a review, an appeal, a prediction): written the same
 * way (qa_assignment_decisions rows whose fields are the `assignment.decided` payload), superseding the
 * decision in force when there is one. The caller holds the task's qa_tasks row lock (lockTask), which
 * is what the consumer takes before deciding a task, so the two never decide one assignment at once.
 */

export interface CurrentDecision {
  id: number;
  outcome: 'accepted' | 'rejected';
  kind: 'annotation' | 'gold' | 'verify';
  task_decision_id: number | null;
  decided_at: Date;
}

/** The decision in force for an assignment: the last of its chain, the one no other supersedes. */
export async function currentDecision(trx: Trx, assignmentId: number): Promise<CurrentDecision | null> {
  const r = await sql<CurrentDecision>`
    SELECT d.id, d.outcome, d.kind, d.task_decision_id, d.decided_at FROM qa_assignment_decisions d
    WHERE d.assignment_id = ${assignmentId}
      AND NOT EXISTS (SELECT 1 FROM qa_assignment_decisions s WHERE s.supersedes_decision_id = d.id)
    ORDER BY d.id DESC LIMIT 1`.execute(trx);
  const row = r.rows[0];
  return row ? { ...row, id: Number(row.id), task_decision_id: row.task_decision_id === null ? null : Number(row.task_decision_id) } : null;
}

/** The task's QA row, created when missing (a task automation decides before any answer) and locked. */
export async function lockTask(trx: Trx, taskId: number, jobId: string): Promise<{ decision_id: number | null; submissions: number }> {
  await sql`INSERT INTO qa_tasks (task_id, job_id) VALUES (${taskId}, ${jobId}) ON CONFLICT (task_id) DO NOTHING`.execute(trx);
  const r = await sql<{ decision_id: number | null; submissions: number }>`
    SELECT decision_id, submissions FROM qa_tasks WHERE task_id = ${taskId} FOR UPDATE`.execute(trx);
  const row = r.rows[0]!;
  return { decision_id: row.decision_id === null ? null : Number(row.decision_id), submissions: row.submissions };
}

/** A job as decisions need it (DecisionJob), read by id. */
export async function loadDecisionJob(trx: Trx, jobId: string): Promise<DecisionJob & { status: string; leaseSeconds: number }> {
  const j = await trx
    .selectFrom('jobs')
    .select(['id', 'client_id', 'overlap', 'required_skill', 'label_config', 'qa_policy', 'status', 'lease_seconds'])
    .where('id', '=', jobId)
    .executeTakeFirstOrThrow();
  return {
    id: j.id, clientId: j.client_id, overlap: j.overlap, requiredSkill: j.required_skill, skill: skillOf(j.required_skill),
    controls: controlsOf(j.label_config), policy: resolvePolicy(j.qa_policy, j.overlap), status: j.status, leaseSeconds: j.lease_seconds,
  };
}

/** What an assignment decision needs of the assignment. */
export interface DecidedAssignment {
  assignment_id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  level: number | null;
}

export interface NewDecision {
  row: DecidedAssignment;
  outcome: 'accepted' | 'rejected';
  kind: 'annotation' | 'gold' | 'verify';
  score: number | null;
  reason: string;
  taskDecisionId: number | null;
  supersedes: number | null;
}

/** Writes assignment decisions (ids from the table's sequence) and returns their `assignment.decided` events. */
export async function writeAssignmentDecisions(trx: Trx, job: DecisionJob, decisions: readonly NewDecision[], now: Date): Promise<{ ids: number[]; events: OutboxEvent[] }> {
  if (decisions.length === 0) return { ids: [], events: [] };
  const ids = await allocateIds(trx, 0, decisions.length);
  const rows = decisions.map((d, i) => ({
    ...assignmentDecision(ids.assignment[i]!, d.row, job, d.taskDecisionId, d.outcome === 'accepted', d.score ?? 0, d.reason, now.toISOString(), d.kind === 'verify' ? 'annotation' : d.kind),
    kind: d.kind,
    score: d.score,
    supersedes_decision_id: d.supersedes,
  }));
  await sql`
    INSERT INTO qa_assignment_decisions (id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, task_decision_id, outcome, kind, score, reason, worker_level, supersedes_decision_id, decided_at)
    SELECT x.id, x.assignment_id, x.task_id, x.job_id, x.client_id, x.worker_id, x.vendor_id, x.task_decision_id, x.outcome, x.kind, x.score, x.reason, x.worker_level, x.supersedes_decision_id, x.decided_at
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id bigint, assignment_id bigint, task_id bigint, job_id uuid, client_id uuid, worker_id uuid, vendor_id uuid,
      task_decision_id bigint, outcome text, kind text, score real, reason text, worker_level smallint, supersedes_decision_id bigint, decided_at timestamptz)`.execute(trx);
  return {
    ids: decisions.map((_, i) => ids.assignment[i]!),
    events: rows.map((r) => ({ event: 'assignment.decided', payload: r as unknown as EventPayload<'assignment.decided'> })),
  };
}

/** Worker levels in a job's required skill (null for jobs without one: the pay multiplier does not apply). */
export async function levelsOf(trx: Trx, workerIds: readonly string[], requiredSkill: string | null): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>(workerIds.map((w) => [w, null]));
  if (requiredSkill === null || workerIds.length === 0) return out;
  const r = await sql<{ worker_id: string; level: number }>`
    SELECT worker_id, level FROM worker_skills WHERE worker_id = ANY(${[...workerIds]}::uuid[]) AND skill = ${requiredSkill}`.execute(trx);
  for (const row of r.rows) out.set(row.worker_id, row.level);
  return out;
}

/**
 * Every recorded consensus submission of a task that has no decision yet, judged against a result
 * that decided the task outside the consensus (a correction, a prediction): without this they would
 * wait for a later answer on a task that takes none.
 */
export async function judgeUndecided(
  trx: Trx,
  job: DecisionJob,
  taskId: number,
  taskDecisionId: number,
  result: unknown,
  reason: string,
  now: Date,
  except: ReadonlySet<number> = new Set(),
): Promise<{ accepted: number[]; rejected: number[]; events: OutboxEvent[] }> {
  const rows = (
    await sql<DecidedAssignment & { answer: unknown }>`
      SELECT s.assignment_id, s.task_id, s.job_id, s.worker_id, s.vendor_id, a.answer, NULL::smallint AS level
      FROM qa_submissions s JOIN assignments a ON a.id = s.assignment_id
      WHERE s.task_id = ${taskId} AND s.route = 'consensus' AND a.status = 'submitted'
        AND NOT EXISTS (SELECT 1 FROM qa_assignment_decisions d WHERE d.assignment_id = s.assignment_id)
      ORDER BY s.assignment_id`.execute(trx)
  ).rows.filter((r) => !except.has(Number(r.assignment_id)));
  const levels = await levelsOf(trx, rows.map((r) => r.worker_id), job.requiredSkill);
  const decisions: NewDecision[] = rows.map((r) => {
    const c = compareAnswers(job.controls, r.answer as Answer, result as Answer);
    return {
      row: { ...r, assignment_id: Number(r.assignment_id), task_id: Number(r.task_id), level: levels.get(r.worker_id) ?? null },
      outcome: c.pass ? 'accepted' : 'rejected', kind: 'annotation', score: clamp01(c.score), reason, taskDecisionId, supersedes: null,
    };
  });
  const written = await writeAssignmentDecisions(trx, job, decisions, now);
  return {
    accepted: decisions.filter((d) => d.outcome === 'accepted').map((d) => d.row.assignment_id),
    rejected: decisions.filter((d) => d.outcome === 'rejected').map((d) => d.row.assignment_id),
    events: written.events,
  };
}

/** A task decision row made outside the consumer (method review or automation) and the task's qa_tasks pointer to it. */
export async function writeTaskDecision(
  trx: Trx,
  job: DecisionJob,
  t: { taskId: number; result: unknown; agreement: number; confidence: number; method: 'review' | 'automation'; automated: boolean; annotations: number },
  now: Date,
): Promise<number> {
  const ids = await allocateIds(trx, 1, 0);
  const id = ids.task[0]!;
  await sql`
    WITH td AS (
      INSERT INTO qa_task_decisions (id, task_id, job_id, client_id, result, agreement, confidence, method, automated, annotations, decided_at)
      VALUES (${id}, ${t.taskId}, ${job.id}, ${job.clientId}, ${JSON.stringify(t.result)}::jsonb, ${clamp01(t.agreement)}, ${clamp01(t.confidence)}, ${t.method},
              ${t.automated}, ${t.annotations}, ${now})
      RETURNING 1
    )
    UPDATE qa_tasks SET decision_id = ${id}, updated_at = ${now} WHERE task_id = ${t.taskId} AND (SELECT count(*) FROM td) = 1`.execute(trx);
  return id;
}
