import { sql, type Db } from '@fairlabel/db';
import { publishMany, type OutboxEvent } from '@fairlabel/queues';
import { clamp01 } from '../decisions/consensus.js';
import { allocateIds } from '../decisions/rows.js';
import { judgeUndecided, loadDecisionJob } from '../reviews/assignment-decisions.js';

/** Tasks automated per transaction. */
const AUTOMATE_BATCH = 500;

/**
 * prediction_mode `auto`: every open, non-gold, undecided task of an active job whose prediction
 * qualifies (confidence at or above the threshold) is decided with the prediction as its result and
 * no human: a `automation` task decision with `automated: true`, and `task.decided` with
 * `automated: true` (task-dispatch closes the task, settlement charges the automation price, reports
 * count it as automated work). Run on `job.activated` and `tasks.imported` (the qa-sampling queue), in
 * batches of 500 tasks per transaction, each set-based. A worker who claimed such a task before QA
 * got to it is judged against the prediction (their answer arrives as a late answer, or is judged
 * here if it is already recorded). Idempotent: a decided task is not a candidate again.
 */
export async function automateJob(db: Db, jobId: string, now: Date, onDecided: (events: readonly OutboxEvent[]) => void = () => {}): Promise<number> {
  let total = 0;
  for (;;) {
    const { n, events } = await db.transaction().execute(async (trx) => {
      const job = await loadDecisionJob(trx, jobId);
      const none = { n: 0, events: [] as OutboxEvent[] };
      if (job.policy.predictionMode !== 'auto' || job.status !== 'active') return none;
      const candidates = (
        await sql<{ id: number }>`
          SELECT t.id FROM tasks t
          WHERE t.job_id = ${jobId} AND t.status = 'open' AND t.gold IS NULL AND t.prediction IS NOT NULL AND t.prediction_confidence >= ${job.policy.predictionThreshold}
            AND NOT EXISTS (SELECT 1 FROM qa_tasks q WHERE q.task_id = t.id AND q.decision_id IS NOT NULL)
          ORDER BY t.id LIMIT ${AUTOMATE_BATCH}`.execute(trx)
      ).rows.map((r) => Number(r.id));
      if (candidates.length === 0) return none;
      await sql`
        INSERT INTO qa_tasks (task_id, job_id) SELECT unnest(${candidates}::bigint[]), ${jobId}::uuid ORDER BY 1 ON CONFLICT (task_id) DO NOTHING`.execute(trx);
      const locked = (
        await sql<{ task_id: number; submissions: number; prediction: unknown; prediction_confidence: number }>`
          SELECT q.task_id, q.submissions, t.prediction, t.prediction_confidence FROM qa_tasks q JOIN tasks t ON t.id = q.task_id
          WHERE q.task_id = ANY(${candidates}::bigint[]) AND q.decision_id IS NULL
          ORDER BY q.task_id FOR UPDATE OF q`.execute(trx)
      ).rows;
      if (locked.length === 0) return none;
      const ids = await allocateIds(trx, locked.length, 0);
      const decisions = locked.map((t, i) => ({
        id: ids.task[i]!, task_id: Number(t.task_id), job_id: jobId, client_id: job.clientId, result: t.prediction, agreement: clamp01(t.prediction_confidence),
        confidence: clamp01(t.prediction_confidence), annotations: t.submissions, decided_at: now.toISOString(),
      }));
      await sql`
        WITH td AS (
          INSERT INTO qa_task_decisions (id, task_id, job_id, client_id, result, agreement, confidence, method, automated, annotations, decided_at)
          SELECT x.id, x.task_id, x.job_id, x.client_id, x.result, x.agreement, x.confidence, 'automation', true, x.annotations, x.decided_at
          FROM jsonb_to_recordset(${JSON.stringify(decisions)}::jsonb) AS x(id bigint, task_id bigint, job_id uuid, client_id uuid, result jsonb, agreement real,
            confidence real, annotations integer, decided_at timestamptz)
          RETURNING id, task_id
        )
        UPDATE qa_tasks q SET decision_id = td.id, updated_at = ${now} FROM td WHERE q.task_id = td.task_id`.execute(trx);
      const events: OutboxEvent[] = [];
      for (const d of decisions) {
        let judged = { accepted: [] as number[], rejected: [] as number[], events: [] as OutboxEvent[] };
        if (d.annotations > 0) judged = await judgeUndecided(trx, job, d.task_id, d.id, d.result, 'judged against the model\'s prediction (automated decision)', now);
        events.push(...judged.events, {
          event: 'task.decided',
          payload: {
            task_id: d.task_id, job_id: jobId, client_id: job.clientId, decision_id: d.id, agreement: null, automated: true,
            accepted_assignment_ids: judged.accepted, rejected_assignment_ids: judged.rejected, decided_at: d.decided_at,
          },
        });
      }
      await publishMany(trx, events);
      return { n: decisions.length, events };
    });
    // Told only once committed (metrics count what happened).
    if (events.length) onDecided(events);
    total += n;
    if (n < AUTOMATE_BATCH) return total;
  }
}
