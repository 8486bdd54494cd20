import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Database } from '@fairlabel/db';
import type { OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { smoothedAccuracy } from '../quality/accuracy.js';
import { clamp01 } from './consensus.js';
import { allocateIds, assignmentDecision, type DecisionJob, type SubmissionContext } from './decide.service.js';

type Trx = Transaction<Database>;

export interface GoldSubmission extends SubmissionContext {
  job: DecisionJob;
  /** Faster than the job's minimum plausible time: counts as failed gold whatever the answer. */
  fast: boolean;
}

export interface GoldOutcome {
  decisions: Record<string, unknown>[];
  events: OutboxEvent[];
}

/**
 * Scores gold answers at once against the item's gold answer: one qa_gold_scores row per answer (its
 * key makes a redelivery score nothing), the worker's gold record on the job's skill, and a `gold`
 * decision on the assignment (accepted when it passed). A gold item flagged suspect still decides
 * the assignment (accepted: the worker is not blamed for bad gold) but no longer counts.
 */
export async function scoreGold(trx: Trx, subs: readonly GoldSubmission[], now: Date): Promise<GoldOutcome> {
  const decidedAt = now.toISOString();
  const context = await sql<{ assignment_id: number; level: number | null; suspect: boolean; gold_total: number | null; gold_correct: number | null }>`
    SELECT s.assignment_id, ws.level, EXISTS (SELECT 1 FROM qa_suspect_gold g WHERE g.task_id = s.task_id) AS suspect, q.gold_total, q.gold_correct
    FROM jsonb_to_recordset(${JSON.stringify(subs.map((s) => ({ assignment_id: s.assignmentId, task_id: s.taskId, worker_id: s.workerId, skill: s.job.skill, required_skill: s.job.requiredSkill })))}::jsonb)
      AS s(assignment_id bigint, task_id bigint, worker_id uuid, skill text, required_skill text)
    LEFT JOIN worker_skills ws ON ws.worker_id = s.worker_id AND ws.skill = s.required_skill
    LEFT JOIN qa_worker_skills q ON q.worker_id = s.worker_id AND q.skill = s.skill`.execute(trx);
  const ctx = new Map(context.rows.map((r) => [r.assignment_id, r]));
  const scores = subs.map((s) => {
    const c = ctx.get(s.assignmentId)!;
    const cmp = compareAnswers(s.job.controls, s.answer as Answer, s.gold as Answer);
    const passed = cmp.pass && !s.fast;
    return {
      assignment_id: s.assignmentId, task_id: s.taskId, job_id: s.jobId, worker_id: s.workerId, vendor_id: s.vendorId, skill: s.job.skill,
      score: clamp01(s.fast ? 0 : cmp.score), passed, fast: s.fast, suspect: c.suspect, level: c.level,
      accuracy_before: smoothedAccuracy(c.gold_correct ?? 0, c.gold_total ?? 0),
    };
  });
  // Only answers scored now count (and are decided): a redelivered one finds its score taken.
  const inserted = await sql<{ assignment_id: number }>`
    WITH ins AS (
      INSERT INTO qa_gold_scores (assignment_id, task_id, job_id, worker_id, vendor_id, skill, score, passed, fast, accuracy_before, scored_at)
      SELECT x.assignment_id, x.task_id, x.job_id, x.worker_id, x.vendor_id, x.skill, x.score, x.passed, x.fast, x.accuracy_before, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(scores)}::jsonb) AS x(assignment_id bigint, task_id bigint, job_id uuid, worker_id uuid, vendor_id uuid,
        skill text, score real, passed boolean, fast boolean, accuracy_before real)
      WHERE NOT EXISTS (SELECT 1 FROM qa_assignment_decisions d WHERE d.assignment_id = x.assignment_id)
      ON CONFLICT (assignment_id) DO NOTHING
      RETURNING assignment_id
    )
    SELECT assignment_id FROM ins`.execute(trx);
  const fresh = new Set(inserted.rows.map((r) => Number(r.assignment_id)));
  const counted = scores.filter((s) => fresh.has(s.assignment_id) && !s.suspect);
  if (counted.length) {
    const perWorker = new Map<string, { worker_id: string; vendor_id: string; skill: string; total: number; correct: number; fast: number }>();
    for (const s of counted) {
      const k = `${s.worker_id}/${s.skill}`;
      const w = perWorker.get(k) ?? { worker_id: s.worker_id, vendor_id: s.vendor_id, skill: s.skill, total: 0, correct: 0, fast: 0 };
      w.total++;
      if (s.passed) w.correct++;
      if (s.fast) w.fast++;
      perWorker.set(k, w);
    }
    const rows = [...perWorker.values()].sort((a, b) => (a.worker_id + a.skill < b.worker_id + b.skill ? -1 : 1));
    await sql`
      INSERT INTO qa_worker_skills AS q (worker_id, vendor_id, skill, gold_total, gold_correct, gold_total_since_level, gold_correct_since_level, fast_answers, updated_at)
      SELECT x.worker_id, x.vendor_id, x.skill, x.total, x.correct, x.total, x.correct, x.fast, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(worker_id uuid, vendor_id uuid, skill text, total integer, correct integer, fast integer)
      ON CONFLICT (worker_id, skill) DO UPDATE SET
        gold_total = q.gold_total + EXCLUDED.gold_total, gold_correct = q.gold_correct + EXCLUDED.gold_correct,
        gold_total_since_level = q.gold_total_since_level + EXCLUDED.gold_total_since_level,
        gold_correct_since_level = q.gold_correct_since_level + EXCLUDED.gold_correct_since_level,
        fast_answers = q.fast_answers + EXCLUDED.fast_answers, updated_at = EXCLUDED.updated_at`.execute(trx);
  }
  const decide = scores.filter((s) => fresh.has(s.assignment_id));
  const ids = await allocateIds(trx, 0, decide.length);
  const jobOf = new Map(subs.map((s) => [s.assignmentId, s.job]));
  const decisions = decide.map((s) => {
    const pass = s.suspect || s.passed;
    const reason = s.suspect ? 'gold item flagged suspect: not counted' : s.fast ? 'answered faster than the minimum plausible time' : s.passed ? 'matches the gold answer' : 'does not match the gold answer';
    return assignmentDecision(ids.assignment.shift()!, s, jobOf.get(s.assignment_id)!, null, pass, s.score, reason, decidedAt, 'gold');
  });
  if (decisions.length) {
    await sql`
      INSERT INTO qa_assignment_decisions (id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, task_decision_id, outcome, kind, score, reason, worker_level, decided_at)
      SELECT x.id, x.assignment_id, x.task_id, x.job_id, x.client_id, x.worker_id, x.vendor_id, x.task_decision_id, x.outcome, x.kind, x.score, x.reason, x.worker_level, x.decided_at
      FROM jsonb_to_recordset(${JSON.stringify(decisions)}::jsonb) AS x(id bigint, assignment_id bigint, task_id bigint, job_id uuid, client_id uuid,
        worker_id uuid, vendor_id uuid, task_decision_id bigint, outcome text, kind text, score real, reason text, worker_level smallint, decided_at timestamptz)`.execute(trx);
  }
  return { decisions, events: decisions.map((d) => ({ event: 'assignment.decided', payload: d as unknown as EventPayload<'assignment.decided'> })) };
}
