import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Database } from '@fairlabel/db';
import type { OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { smoothedAccuracy } from '../quality/accuracy.js';
import { detectSuspectGold, type GoldAttempt } from '../quality/fraud.js';
import { applyJobRules, applySkillRules } from './skills.service.js';
import { clamp01 } from './consensus.js';
import type { SubmissionContext } from './decide.service.js';
import { allocateIds, assignmentDecision, type DecisionJob } from './rows.js';

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
export async function scoreGold(trx: Trx, subs: readonly GoldSubmission[], now: Date, fastAnswers: readonly FastAnswer[] = []): Promise<GoldOutcome> {
  const decidedAt = now.toISOString();
  if (subs.length === 0) {
    const actions = await recordAndAct(trx, [], fastAnswers, now);
    return { decisions: [], events: actions };
  }
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
      WHERE NOT EXISTS (SELECT 1 FROM qa_assignment_decisions d WHERE d.assignment_id = x.assignment_id AND d.supersedes_decision_id IS NULL)
      ON CONFLICT (assignment_id) DO NOTHING
      RETURNING assignment_id
    )
    SELECT assignment_id FROM ins`.execute(trx);
  const fresh = new Set(inserted.rows.map((r) => Number(r.assignment_id)));
  const counted = scores.filter((s) => fresh.has(s.assignment_id) && !s.suspect);
  const actionEvents = await recordAndAct(trx, counted, fastAnswers, now, subs);
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
  return { decisions, events: [...decisions.map((d): OutboxEvent => ({ event: 'assignment.decided', payload: d as unknown as EventPayload<'assignment.decided'> })), ...actionEvents] };
}

/** A consensus answer faster than the job's minimum plausible time: it counts as a failed gold answer. */
export interface FastAnswer {
  worker_id: string;
  vendor_id: string;
  job: DecisionJob;
}

interface CountedScore {
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  skill: string;
  passed: boolean;
  fast: boolean;
}

/** Gold answers counted into a record: how many, how many passed, how many were implausibly fast. */
interface GoldTally {
  total: number;
  correct: number;
  fast: number;
}

/** Counts one gold answer into the record under `key`, made by `fresh` on first use. */
function tally<T extends GoldTally>(records: Map<string, T>, key: string, fresh: () => T, passed: boolean, fast: boolean): void {
  const record = records.get(key) ?? fresh();
  record.total++;
  if (passed) record.correct++;
  if (fast) record.fast++;
  records.set(key, record);
}

/**
 * Adds the scores to the workers' gold records, flags gold items most experts fail (and takes their
 * scores back out of every record), then applies the skill rules to every record that moved.
 */
async function recordAndAct(trx: Trx, counted: readonly CountedScore[], fastAnswers: readonly FastAnswer[], now: Date, subs: readonly GoldSubmission[] = []): Promise<OutboxEvent[]> {
  const perWorker = new Map<string, { worker_id: string; vendor_id: string; skill: string } & GoldTally>();
  const add = (worker_id: string, vendor_id: string, skill: string, passed: boolean, fast: boolean) =>
    tally(perWorker, `${worker_id}/${skill}`, () => ({ worker_id, vendor_id, skill, total: 0, correct: 0, fast: 0 }), passed, fast);
  // Jobs without a required skill also keep a record per job (qa_worker_jobs): their floor suspends from the job only.
  const skillLess = new Set([...subs.filter((s) => s.job.requiredSkill === null).map((s) => s.jobId), ...fastAnswers.filter((f) => f.job.requiredSkill === null).map((f) => f.job.id)]);
  const perJob = new Map<string, { worker_id: string; vendor_id: string; job_id: string } & GoldTally>();
  const addJob = (worker_id: string, vendor_id: string, job_id: string, passed: boolean, fast: boolean) => {
    if (skillLess.has(job_id)) tally(perJob, `${worker_id}/${job_id}`, () => ({ worker_id, vendor_id, job_id, total: 0, correct: 0, fast: 0 }), passed, fast);
  };
  for (const s of counted) {
    add(s.worker_id, s.vendor_id, s.skill, s.passed, s.fast);
    addJob(s.worker_id, s.vendor_id, s.job_id, s.passed, s.fast);
  }
  for (const f of fastAnswers) {
    add(f.worker_id, f.vendor_id, f.job.skill, false, true);
    addJob(f.worker_id, f.vendor_id, f.job.id, false, true);
  }
  if (perWorker.size === 0) return [];
  const rows = [...perWorker.values()].sort((a, b) => (a.worker_id + a.skill < b.worker_id + b.skill ? -1 : 1));
  await sql`
    INSERT INTO qa_worker_skills AS q (worker_id, vendor_id, skill, gold_total, gold_correct, gold_total_since_level, gold_correct_since_level, fast_answers, updated_at)
    SELECT x.worker_id, x.vendor_id, x.skill, x.total, x.correct, x.total, x.correct, x.fast, ${now}
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(worker_id uuid, vendor_id uuid, skill text, total integer, correct integer, fast integer)
    ORDER BY x.worker_id, x.skill
    ON CONFLICT (worker_id, skill) DO UPDATE SET
      gold_total = q.gold_total + EXCLUDED.gold_total, gold_correct = q.gold_correct + EXCLUDED.gold_correct,
      gold_total_since_level = q.gold_total_since_level + EXCLUDED.gold_total_since_level,
      gold_correct_since_level = q.gold_correct_since_level + EXCLUDED.gold_correct_since_level,
      fast_answers = q.fast_answers + EXCLUDED.fast_answers, updated_at = EXCLUDED.updated_at`.execute(trx);
  if (perJob.size) {
    const jobRows = [...perJob.values()].sort((a, b) => (a.worker_id + a.job_id < b.worker_id + b.job_id ? -1 : 1));
    await sql`
      INSERT INTO qa_worker_jobs AS q (worker_id, job_id, vendor_id, gold_total, gold_correct, fast_answers, updated_at)
      SELECT x.worker_id, x.job_id, x.vendor_id, x.total, x.correct, x.fast, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(jobRows)}::jsonb) AS x(worker_id uuid, job_id uuid, vendor_id uuid, total integer, correct integer, fast integer)
      ORDER BY x.worker_id, x.job_id
      ON CONFLICT (worker_id, job_id) DO UPDATE SET
        gold_total = q.gold_total + EXCLUDED.gold_total, gold_correct = q.gold_correct + EXCLUDED.gold_correct,
        fast_answers = q.fast_answers + EXCLUDED.fast_answers, updated_at = EXCLUDED.updated_at`.execute(trx);
  }
  const goldTasks = [...new Set(counted.map((s) => s.task_id))];
  const jobOfTask = new Map(subs.map((s) => [s.taskId, s.job]));
  if (goldTasks.length) await flagSuspectGold(trx, goldTasks, jobOfTask, now);
  const jobs = new Map<string, DecisionJob>();
  for (const s of subs) jobs.set(`${s.workerId}/${s.job.skill}`, s.job);
  for (const f of fastAnswers) jobs.set(`${f.worker_id}/${f.job.skill}`, f.job);
  const skillEvents = await applySkillRules(trx, [...perWorker.values()].map((w) => ({ workerId: w.worker_id, vendorId: w.vendor_id, job: jobs.get(`${w.worker_id}/${w.skill}`)! })), now);
  const jobOf = new Map([...subs.map((s) => [s.jobId, s.job] as const), ...fastAnswers.map((f) => [f.job.id, f.job] as const)]);
  const jobEvents = await applyJobRules(trx, [...perJob.values()].map((w) => ({ workerId: w.worker_id, vendorId: w.vendor_id, job: jobOf.get(w.job_id)! })), now);
  return [...skillEvents, ...jobEvents];
}

/**
 * A gold item that most high-accuracy workers fail is more likely wrong than they are
 * (detectSuspectGold, leave-one-out accuracies): it is flagged (qa_suspect_gold; the claim stops
 * offering it) and every score it gave is taken back out of the workers' records.
 */
async function flagSuspectGold(trx: Trx, taskIds: number[], jobOfTask: Map<number, DecisionJob>, now: Date): Promise<void> {
  const attempts = await sql<{ task_id: number; passed: boolean; gold_total: number; gold_correct: number }>`
    SELECT g.task_id, g.passed, q.gold_total, q.gold_correct
    FROM qa_gold_scores g JOIN qa_worker_skills q ON q.worker_id = g.worker_id AND q.skill = g.skill
    WHERE g.task_id = ANY(${taskIds}::bigint[]) AND NOT EXISTS (SELECT 1 FROM qa_suspect_gold s WHERE s.task_id = g.task_id)`.execute(trx);
  const byTask = new Map<number, GoldAttempt[]>();
  for (const a of attempts.rows) byTask.set(a.task_id, [...(byTask.get(a.task_id) ?? []), { correct: a.passed, workerGoldTotal: a.gold_total, workerGoldCorrect: a.gold_correct }]);
  const suspect = [...byTask].map(([taskId, list]) => ({ taskId, r: detectSuspectGold(list) })).filter((x) => x.r.suspect);
  if (suspect.length === 0) return;
  const flagged = suspect.map((x) => ({ task_id: x.taskId, job_id: jobOfTask.get(x.taskId)?.id, evidence: { ...x.r, rule: 'most high-accuracy workers failed it' } }));
  await sql`
    WITH flagged AS (
      INSERT INTO qa_suspect_gold (task_id, job_id, evidence, flagged_at)
      SELECT x.task_id, x.job_id, x.evidence, ${now} FROM jsonb_to_recordset(${JSON.stringify(flagged)}::jsonb) AS x(task_id bigint, job_id uuid, evidence jsonb)
      ON CONFLICT (task_id) DO NOTHING
      RETURNING task_id
    ), taken AS (
      SELECT g.worker_id, g.skill, count(*)::int AS total, count(*) FILTER (WHERE g.passed)::int AS correct
      FROM qa_gold_scores g WHERE g.task_id IN (SELECT task_id FROM flagged) GROUP BY g.worker_id, g.skill
    ), per_job AS (
      -- Skill-less jobs' per-job records (qa_worker_jobs) give the scores back too (a data-modifying CTE runs whether or not it is read).
      UPDATE qa_worker_jobs q SET gold_total = greatest(q.gold_total - t.total, 0), gold_correct = greatest(q.gold_correct - t.correct, 0), updated_at = ${now}
      FROM (SELECT g.worker_id, g.job_id, count(*)::int AS total, count(*) FILTER (WHERE g.passed)::int AS correct
            FROM qa_gold_scores g WHERE g.task_id IN (SELECT task_id FROM flagged) AND g.skill = '*' GROUP BY g.worker_id, g.job_id) t
      WHERE q.worker_id = t.worker_id AND q.job_id = t.job_id
      RETURNING 1
    )
    UPDATE qa_worker_skills q SET gold_total = greatest(q.gold_total - t.total, 0), gold_correct = greatest(q.gold_correct - t.correct, 0),
      gold_total_since_level = greatest(q.gold_total_since_level - t.total, 0), gold_correct_since_level = greatest(q.gold_correct_since_level - t.correct, 0),
      updated_at = ${now}
    FROM taken t WHERE q.worker_id = t.worker_id AND q.skill = t.skill`.execute(trx);
}
