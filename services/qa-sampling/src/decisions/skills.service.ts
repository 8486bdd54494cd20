import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Database } from '@fairlabel/db';
import type { OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { decideSkillAction } from '../quality/levels.js';
import { allocateIds, assignmentDecision, type DecisionJob } from './rows.js';

type Trx = Transaction<Database>;

export interface SkillKey {
  workerId: string;
  vendorId: string;
  /** The job whose gold moved the record: its QA policy holds the bars. */
  job: DecisionJob;
}

/**
 * The skill rules, on gold records that just moved (decideSkillAction):
 * - suspension: at least N gold answers (min_gold_for_suspension) with smoothed accuracy under the job's
 *   accuracy_floor. The worker's undecided work on that skill is rejected at once (its slots reopen when
 *   worker-assignment applies the rejections) and no longer counts toward any task;
 * - promotion: at least M gold answers since the last level change (min_gold_for_promotion) with
 *   smoothed accuracy at or above promotion_bar: one level up; the since-level counts start again.
 * Each action is a qa_skill_actions row keyed by (worker, skill, action, gold count), so a rerun acts
 * once, and goes to worker-assignment as `worker.skill_changed` with its evidence. Jobs without a
 * required skill ('*') have no level to move and share the `*` record: their floor suspends from the
 * job alone (applyJobRules).
 */
export async function applySkillRules(trx: Trx, keys: readonly SkillKey[], now: Date): Promise<OutboxEvent[]> {
  const real = keys.filter((k) => k.job.requiredSkill !== null);
  if (real.length === 0) return [];
  const rows = await sql<{
    worker_id: string; skill: string; gold_total: number; gold_correct: number; since_total: number; since_correct: number; fast_answers: number;
    suspended: boolean; level: number | null;
  }>`
    SELECT q.worker_id, q.skill, q.gold_total, q.gold_correct, q.gold_total_since_level AS since_total, q.gold_correct_since_level AS since_correct,
           q.fast_answers, q.suspended_at IS NOT NULL AS suspended,
           -- The level QA last promoted to while worker-assignment has not applied it yet (it still says the
           -- level promoted from); otherwise worker-assignment's (which ops certifications also set).
           CASE WHEN q.promoted_to IS NOT NULL AND ws.level = q.promoted_from THEN q.promoted_to ELSE ws.level END AS level
    FROM qa_worker_skills q LEFT JOIN worker_skills ws ON ws.worker_id = q.worker_id AND ws.skill = q.skill
    WHERE (q.worker_id, q.skill) IN (SELECT x.w, x.s FROM jsonb_to_recordset(${JSON.stringify(real.map((k) => ({ w: k.workerId, s: k.job.skill })))}::jsonb) AS x(w uuid, s text))
    ORDER BY q.worker_id, q.skill
    FOR UPDATE OF q`.execute(trx);
  const keyOf = new Map(real.map((k) => [`${k.workerId}/${k.job.skill}`, k]));
  const actions: { worker_id: string; vendor_id: string; skill: string; action: 'suspend' | 'promote'; from_level: number | null; to_level: number | null; at_gold_total: number; evidence: Record<string, unknown> }[] = [];
  for (const r of rows.rows) {
    const k = keyOf.get(`${r.worker_id}/${r.skill}`)!;
    const p = k.job.policy;
    if (r.level === null) continue; // no skill row to act on (the worker never had the skill)
    const suspension = decideSkillAction(
      { goldCorrect: r.gold_correct, goldTotal: r.gold_total, level: r.level, suspended: r.suspended },
      { accuracyFloor: p.accuracyFloor, minGoldForSuspension: p.minGoldForSuspension, promotionBar: Infinity, minGoldForPromotion: Infinity },
    );
    const evidence = (d: { accuracy: number; reason: string }, extra: Record<string, unknown>) => ({
      reason: d.reason, accuracy: Number(d.accuracy.toFixed(4)), gold_total: r.gold_total, gold_correct: r.gold_correct, fast_answers: r.fast_answers, job_id: k.job.id, ...extra,
    });
    if (suspension.action === 'suspend') {
      actions.push({ worker_id: r.worker_id, vendor_id: k.vendorId, skill: r.skill, action: 'suspend', from_level: r.level, to_level: r.level, at_gold_total: r.gold_total,
        evidence: evidence(suspension, { accuracy_floor: p.accuracyFloor, min_gold: p.minGoldForSuspension }) });
      continue;
    }
    const promotion = decideSkillAction(
      { goldCorrect: r.since_correct, goldTotal: r.since_total, level: r.level, suspended: r.suspended },
      { accuracyFloor: 0, minGoldForSuspension: Infinity, promotionBar: p.promotionBar, minGoldForPromotion: p.minGoldForPromotion },
    );
    if (promotion.action === 'promote') {
      actions.push({ worker_id: r.worker_id, vendor_id: k.vendorId, skill: r.skill, action: 'promote', from_level: r.level, to_level: promotion.level, at_gold_total: r.gold_total,
        evidence: evidence(promotion, { promotion_bar: p.promotionBar, min_gold: p.minGoldForPromotion, since_level: { gold_total: r.since_total, gold_correct: r.since_correct } }) });
    }
  }
  if (actions.length === 0) return [];
  const taken = await sql<{ worker_id: string; skill: string; action: string }>`
    WITH ins AS (
      INSERT INTO qa_skill_actions (worker_id, vendor_id, skill, action, from_level, to_level, at_gold_total, evidence, created_at)
      SELECT x.worker_id, x.vendor_id, x.skill, x.action, x.from_level, x.to_level, x.at_gold_total, x.evidence, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(actions)}::jsonb) AS x(worker_id uuid, vendor_id uuid, skill text, action text, from_level smallint, to_level smallint, at_gold_total integer, evidence jsonb)
      ON CONFLICT ON CONSTRAINT qa_skill_actions_key DO NOTHING
      RETURNING worker_id, skill, action, from_level, to_level
    ), upd AS (
      UPDATE qa_worker_skills q SET
        suspended_at = CASE WHEN i.action = 'suspend' THEN ${now}::timestamptz ELSE q.suspended_at END,
        promoted_from = CASE WHEN i.action = 'promote' THEN i.from_level ELSE q.promoted_from END,
        promoted_to = CASE WHEN i.action = 'promote' THEN i.to_level ELSE q.promoted_to END,
        gold_total_since_level = CASE WHEN i.action = 'promote' THEN 0 ELSE q.gold_total_since_level END,
        gold_correct_since_level = CASE WHEN i.action = 'promote' THEN 0 ELSE q.gold_correct_since_level END,
        updated_at = ${now}
      FROM ins i WHERE q.worker_id = i.worker_id AND q.skill = i.skill
      RETURNING 1
    )
    SELECT worker_id, skill, action FROM ins, (SELECT count(*) FROM upd) u`.execute(trx);
  const done = new Set(taken.rows.map((t) => `${t.worker_id}/${t.skill}/${t.action}`));
  const events: OutboxEvent[] = [];
  for (const a of actions.filter((x) => done.has(`${x.worker_id}/${x.skill}/${x.action}`))) {
    events.push({
      event: 'worker.skill_changed',
      payload: { worker_id: a.worker_id, vendor_id: a.vendor_id, skill: a.skill, action: a.action, from_level: a.from_level, to_level: a.to_level, evidence: a.evidence } satisfies EventPayload<'worker.skill_changed'>,
    });
    if (a.action === 'suspend') events.push(...(await rejectUndecidedWork(trx, a.worker_id, { skill: a.skill }, now)));
  }
  return events;
}

/**
 * The suspension rule for jobs without a required skill, on the worker's gold record on that job
 * (qa_worker_jobs: the job's gold and fast answers only, not the `*` record every skill-less job
 * shares): at least N gold answers (min_gold_for_suspension) with smoothed accuracy under the job's
 * accuracy_floor suspends the worker from THIS job. Recorded as a qa_skill_actions row (skill `*`,
 * with the job; unique per worker, job and gold count, so a rerun acts once), sent to worker-assignment
 * as `worker.job_suspended` (it blocks the job in the claim, the submit and the heartbeat), and the
 * worker's undecided work on the job is rejected at once, so its slots reopen. Runs under the record's
 * row lock, so of two batches whose gold both cross the floor only the first acts. No promotion: a
 * job has no level.
 */
export async function applyJobRules(trx: Trx, keys: readonly SkillKey[], now: Date): Promise<OutboxEvent[]> {
  const scoped = keys.filter((k) => k.job.requiredSkill === null);
  if (scoped.length === 0) return [];
  const rows = await sql<{ worker_id: string; job_id: string; gold_total: number; gold_correct: number; fast_answers: number; suspended: boolean }>`
    SELECT q.worker_id, q.job_id, q.gold_total, q.gold_correct, q.fast_answers, q.suspended_at IS NOT NULL AS suspended
    FROM qa_worker_jobs q
    WHERE (q.worker_id, q.job_id) IN (SELECT x.w, x.j FROM jsonb_to_recordset(${JSON.stringify(scoped.map((k) => ({ w: k.workerId, j: k.job.id })))}::jsonb) AS x(w uuid, j uuid))
    ORDER BY q.worker_id, q.job_id
    FOR UPDATE OF q`.execute(trx);
  const keyOf = new Map(scoped.map((k) => [`${k.workerId}/${k.job.id}`, k]));
  const actions: { worker_id: string; vendor_id: string; job_id: string; at_gold_total: number; evidence: Record<string, unknown> }[] = [];
  for (const r of rows.rows) {
    const k = keyOf.get(`${r.worker_id}/${r.job_id}`)!;
    const p = k.job.policy;
    const d = decideSkillAction(
      // A job has no level: 1 stands in, and promotion is off.
      { goldCorrect: r.gold_correct, goldTotal: r.gold_total, level: 1, suspended: r.suspended },
      { accuracyFloor: p.accuracyFloor, minGoldForSuspension: p.minGoldForSuspension, promotionBar: Infinity, minGoldForPromotion: Infinity },
    );
    if (d.action !== 'suspend') continue;
    actions.push({
      worker_id: r.worker_id, vendor_id: k.vendorId, job_id: r.job_id, at_gold_total: r.gold_total,
      evidence: {
        reason: `${d.reason} on this job`, scope: 'job', accuracy: Number(d.accuracy.toFixed(4)), gold_total: r.gold_total, gold_correct: r.gold_correct,
        fast_answers: r.fast_answers, job_id: r.job_id, accuracy_floor: p.accuracyFloor, min_gold: p.minGoldForSuspension,
      },
    });
  }
  if (actions.length === 0) return [];
  const taken = await sql<{ worker_id: string; job_id: string }>`
    WITH ins AS (
      INSERT INTO qa_skill_actions (worker_id, vendor_id, skill, action, from_level, to_level, at_gold_total, evidence, job_id, created_at)
      SELECT x.worker_id, x.vendor_id, '*', 'suspend', NULL, NULL, x.at_gold_total, x.evidence, x.job_id, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(actions)}::jsonb) AS x(worker_id uuid, vendor_id uuid, job_id uuid, at_gold_total integer, evidence jsonb)
      ON CONFLICT ON CONSTRAINT qa_skill_actions_key DO NOTHING
      RETURNING worker_id, job_id
    ), upd AS (
      UPDATE qa_worker_jobs q SET suspended_at = ${now}, updated_at = ${now}
      FROM ins i WHERE q.worker_id = i.worker_id AND q.job_id = i.job_id
      RETURNING 1
    )
    SELECT worker_id, job_id FROM ins, (SELECT count(*) FROM upd) u`.execute(trx);
  const done = new Set(taken.rows.map((t) => `${t.worker_id}/${t.job_id}`));
  const events: OutboxEvent[] = [];
  for (const a of actions.filter((x) => done.has(`${x.worker_id}/${x.job_id}`))) {
    events.push({
      event: 'worker.job_suspended',
      payload: { worker_id: a.worker_id, vendor_id: a.vendor_id, job_id: a.job_id, evidence: a.evidence } satisfies EventPayload<'worker.job_suspended'>,
    });
    events.push(...(await rejectUndecidedWork(trx, a.worker_id, { jobId: a.job_id }, now)));
  }
  return events;
}

/**
 * A suspended worker's undecided consensus work on the skill (or on the one job they were suspended
 * from): rejected now (kind annotation, reason given), taken out of its tasks' counts so each task
 * waits for another annotation; worker-assignment rejecting the assignments gives their slots back.
 */
async function rejectUndecidedWork(trx: Trx, workerId: string, scope: { skill: string } | { jobId: string }, now: Date): Promise<OutboxEvent[]> {
  const where = 'skill' in scope ? sql`j.required_skill = ${scope.skill}` : sql`s.job_id = ${scope.jobId}::uuid`;
  const rows = await sql<{ assignment_id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; client_id: string; overlap: number; level: number | null }>`
    SELECT s.assignment_id, s.task_id, s.job_id, s.worker_id, s.vendor_id, j.client_id, j.overlap, ws.level
    FROM qa_submissions s JOIN jobs j ON j.id = s.job_id JOIN qa_tasks t ON t.task_id = s.task_id
    LEFT JOIN worker_skills ws ON ws.worker_id = s.worker_id AND ws.skill = j.required_skill
    WHERE s.worker_id = ${workerId} AND ${where} AND s.route = 'consensus' AND t.decision_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM qa_assignment_decisions d WHERE d.assignment_id = s.assignment_id AND d.supersedes_decision_id IS NULL)
    ORDER BY s.task_id
    FOR UPDATE OF t`.execute(trx);
  if (rows.rows.length === 0) return [];
  const ids = await allocateIds(trx, 0, rows.rows.length);
  const decidedAt = now.toISOString();
  const requiredSkill = 'skill' in scope ? scope.skill : null;
  const reason = 'skill' in scope ? `worker suspended from skill ${scope.skill}: undecided work rejected` : 'worker suspended from this job: undecided work rejected';
  const decisions = rows.rows.map((r) => assignmentDecision(ids.assignment.shift()!, r, { clientId: r.client_id, requiredSkill }, null, false, 0, reason, decidedAt));
  await sql`
    WITH ad AS (
      INSERT INTO qa_assignment_decisions (id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, task_decision_id, outcome, kind, score, reason, worker_level, decided_at)
      SELECT x.id, x.assignment_id, x.task_id, x.job_id, x.client_id, x.worker_id, x.vendor_id, x.task_decision_id, x.outcome, x.kind, x.score, x.reason, x.worker_level, x.decided_at
      FROM jsonb_to_recordset(${JSON.stringify(decisions)}::jsonb) AS x(id bigint, assignment_id bigint, task_id bigint, job_id uuid, client_id uuid,
        worker_id uuid, vendor_id uuid, task_decision_id bigint, outcome text, kind text, score real, reason text, worker_level smallint, decided_at timestamptz)
      RETURNING task_id
    )
    UPDATE qa_tasks q SET submissions = greatest(q.submissions - c.n, 0), updated_at = ${now}
    FROM (SELECT task_id, count(*)::int AS n FROM ad GROUP BY task_id) c WHERE q.task_id = c.task_id`.execute(trx);
  return decisions.map((d) => ({ event: 'assignment.decided', payload: d as unknown as EventPayload<'assignment.decided'> }));
}
