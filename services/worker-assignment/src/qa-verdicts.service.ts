import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';

/**
 * QA's verdicts on rows worker-assignment owns (qa-sampling decides; only worker-assignment writes).
 *
 * `assignment.decided`: the assignment becomes accepted or rejected. A first decision moves only a
 * submitted assignment; a superseding one (an upheld appeal) moves a decided one. So a redelivery, or a
 * decision older than the one applied, changes nothing. A rejection gives the assignment's slot back
 * (wa_assignment_changed), which is right while the task is open (a suspended worker's work is redone)
 * but not once QA has decided the task: task-dispatch closes it on `task.decided`, which may arrive
 * after this, so a decided task's slots are closed here too, in the same transaction.
 */
export async function applyAssignmentDecision(db: Db, d: EventPayload<'assignment.decided'>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const moved = await sql<{ id: number }>`
      UPDATE assignments SET status = ${d.outcome}, decided_at = ${d.decided_at}::timestamptz
      WHERE id = ${d.assignment_id} AND task_id = ${d.task_id}
        AND (status = 'submitted' OR (${d.supersedes_decision_id}::bigint IS NOT NULL AND status IN ('accepted', 'rejected') AND status <> ${d.outcome}))
      RETURNING id`.execute(trx);
    if (moved.rows.length === 0) return false;
    if (d.outcome === 'rejected') {
      await sql`
        UPDATE task_slots SET open_slots = 0
        WHERE task_id = ${d.task_id} AND open_slots <> 0
          AND EXISTS (SELECT 1 FROM qa_task_decisions q WHERE q.task_id = ${d.task_id} AND q.supersedes_decision_id IS NULL)`.execute(trx);
    }
    return true;
  });
}

/**
 * `worker.skill_changed`: a promotion sets the level (source 'qa') if the worker is still at the level
 * QA promoted from; a suspension marks the skill suspended (the claim and the submit refuse it) if it
 * is not already; a reinstatement clears it. Each change that happened writes one skill_level_events
 * row (source 'qa', with QA's reason), so a redelivery neither moves the level twice nor logs twice.
 */
export async function applySkillChange(db: Db, e: EventPayload<'worker.skill_changed'>): Promise<boolean> {
  const reason = typeof e.evidence.reason === 'string' ? e.evidence.reason : `qa ${e.action}`;
  const res = await sql<{ n: number }>`
    WITH changed AS (
      UPDATE worker_skills SET
        level = CASE WHEN ${e.action} = 'promote' THEN ${e.to_level}::smallint ELSE level END,
        source = CASE WHEN ${e.action} = 'promote' THEN 'qa' ELSE source END,
        suspended_at = CASE ${e.action} WHEN 'suspend' THEN now() WHEN 'reinstate' THEN NULL ELSE suspended_at END,
        updated_at = now()
      WHERE worker_id = ${e.worker_id} AND skill = ${e.skill}
        AND CASE ${e.action}
          WHEN 'promote' THEN level = ${e.from_level}::smallint AND ${e.to_level}::smallint IS NOT NULL
          WHEN 'suspend' THEN suspended_at IS NULL
          ELSE suspended_at IS NOT NULL END
      RETURNING worker_id, skill, level
    ), logged AS (
      INSERT INTO skill_level_events (worker_id, skill, from_level, to_level, source, reason)
      SELECT c.worker_id, c.skill, ${e.from_level}::smallint, CASE WHEN ${e.action} = 'promote' THEN ${e.to_level}::smallint ELSE c.level END, 'qa',
             ${`${e.action}: ${reason}`}
      FROM changed c
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM logged`.execute(db);
  return (res.rows[0]?.n ?? 0) > 0;
}

/**
 * `worker.job_suspended`: the worker is blocked from the job (worker_job_blocks: the claim no longer
 * offers it, the submit and heartbeat of its leases are refused), with QA's evidence. Once: a
 * redelivery finds the block and changes nothing. The worker's undecided work on the job QA rejects
 * itself (`assignment.decided`), which gives the slots back.
 */
export async function applyJobSuspension(db: Db, e: EventPayload<'worker.job_suspended'>): Promise<boolean> {
  const reason = typeof e.evidence.reason === 'string' ? e.evidence.reason : 'qa suspension from the job';
  const res = await sql<{ worker_id: string }>`
    INSERT INTO worker_job_blocks (worker_id, job_id, vendor_id, reason, evidence)
    VALUES (${e.worker_id}, ${e.job_id}, ${e.vendor_id}, ${reason}, ${JSON.stringify(e.evidence)}::jsonb)
    ON CONFLICT (worker_id, job_id) DO NOTHING
    RETURNING worker_id`.execute(db);
  return res.rows.length > 0;
}
