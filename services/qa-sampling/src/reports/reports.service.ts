import type { JobQaReport, WorkerQuality } from '@fairlabel/contracts';
import { sql, type Db } from '@fairlabel/db';
import { notFound } from '@fairlabel/http';
import { accuracyEstimate, smoothedAccuracy } from '../quality/accuracy.js';
import { resolvePolicy } from '../decisions/policy.js';
import { reviewSummary } from '../reviews/summary.js';

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * A job's quality report for its client (`clientId` null: platform staff, any job). Every figure is
 * one aggregate over QA's own tables for the job.
 */
export async function jobQaReport(db: Db, clientId: string | null, jobId: string): Promise<JobQaReport> {
  const job = await db
    .selectFrom('jobs')
    .select(['id', 'overlap', 'qa_policy'])
    .where('id', '=', jobId)
    .$if(clientId !== null, (q) => q.where('client_id', '=', clientId!))
    .executeTakeFirst();
  if (!job) throw notFound('job');
  const [tasks, buckets, decisions, gold, suspect, requests] = await Promise.all([
    sql<{ decided: number; waiting: number; mean: number | null; extra: number; with_extra: number; automated: number; confidence: number | null }>`
      SELECT (SELECT count(*)::int FROM qa_task_decisions d WHERE d.job_id = ${jobId} AND d.supersedes_decision_id IS NULL) AS decided,
             (SELECT count(*)::int FROM qa_tasks q WHERE q.job_id = ${jobId} AND q.decision_id IS NULL AND q.submissions > 0) AS waiting,
             avg(d.agreement)::float8 AS mean, coalesce(sum(d.extra_annotations), 0)::int AS extra,
             count(*) FILTER (WHERE d.extra_annotations > 0)::int AS with_extra, count(*) FILTER (WHERE d.automated)::int AS automated,
             avg(d.confidence)::float8 AS confidence
      FROM qa_task_decisions d
      WHERE d.job_id = ${jobId} AND NOT EXISTS (SELECT 1 FROM qa_task_decisions s WHERE s.supersedes_decision_id = d.id)`.execute(db),
    sql<{ bucket: number; n: number }>`
      SELECT least(floor(d.agreement * 10), 9)::int AS bucket, count(*)::int AS n
      FROM qa_task_decisions d
      WHERE d.job_id = ${jobId} AND NOT EXISTS (SELECT 1 FROM qa_task_decisions s WHERE s.supersedes_decision_id = d.id)
      GROUP BY 1`.execute(db),
    sql<{ kind: string; outcome: string; n: number }>`
      SELECT d.kind, d.outcome, count(*)::int AS n FROM qa_assignment_decisions d
      WHERE d.job_id = ${jobId} AND NOT EXISTS (SELECT 1 FROM qa_assignment_decisions s WHERE s.supersedes_decision_id = d.id)
      GROUP BY 1, 2`.execute(db),
    sql<{ worker_id: string; vendor_id: string; total: number; correct: number }>`
      SELECT g.worker_id, g.vendor_id, count(*)::int AS total, count(*) FILTER (WHERE g.passed)::int AS correct
      FROM qa_gold_scores g
      WHERE g.job_id = ${jobId} AND NOT EXISTS (SELECT 1 FROM qa_suspect_gold s WHERE s.task_id = g.task_id)
      GROUP BY 1, 2 ORDER BY 1`.execute(db),
    sql<{ n: number }>`SELECT count(*)::int AS n FROM qa_suspect_gold WHERE job_id = ${jobId}`.execute(db),
    sql<{ n: number }>`SELECT count(*)::int AS n FROM qa_tasks WHERE job_id = ${jobId} AND overlap_requested IS NOT NULL`.execute(db),
  ]);
  const reviews = await reviewSummary(db, jobId);
  const t = tasks.rows[0]!;
  const count = (kind: string, outcome: string) => decisions.rows.find((r) => r.kind === kind && r.outcome === outcome)?.n ?? 0;
  const vendors = new Map<string, { total: number; correct: number }>();
  for (const g of gold.rows) {
    const v = vendors.get(g.vendor_id) ?? { total: 0, correct: 0 };
    v.total += g.total;
    v.correct += g.correct;
    vendors.set(g.vendor_id, v);
  }
  return {
    job_id: job.id,
    consensus_method: resolvePolicy(job.qa_policy, job.overlap).method,
    tasks: { decided: t.decided, waiting: t.waiting },
    agreement: {
      mean: t.mean === null ? null : round(t.mean),
      distribution: Array.from({ length: 10 }, (_, b) => ({ from: b / 10, to: (b + 1) / 10, tasks: buckets.rows.find((r) => r.bucket === b)?.n ?? 0 })),
    },
    decisions: { accepted: count('annotation', 'accepted'), rejected: count('annotation', 'rejected'), gold_accepted: count('gold', 'accepted'), gold_rejected: count('gold', 'rejected') },
    gold: {
      by_worker: gold.rows.map((g) => ({ worker_id: g.worker_id, vendor_id: g.vendor_id, gold_total: g.total, gold_correct: g.correct, accuracy: round(smoothedAccuracy(g.correct, g.total)) })),
      by_vendor: [...vendors].map(([vendor_id, v]) => ({ vendor_id, gold_total: v.total, gold_correct: v.correct, accuracy: round(smoothedAccuracy(v.correct, v.total)) })),
      suspect_items: suspect.rows[0]!.n,
    },
    overlap: { extra_annotations: t.extra, tasks_with_extra: t.with_extra, requests: requests.rows[0]!.n },
    automation: { automated_tasks: t.automated, share: t.decided ? round(t.automated / t.decided) : null },
    reviews,
    estimated_accuracy: t.confidence === null ? null : round(t.confidence),
  };
}

/**
 * A worker's quality: gold record and level per skill, decisions, QA's actions with their evidence,
 * and the recent gold answers behind them. `vendorId` scopes it (a vendor reads its own workers; a
 * worker reads itself): another vendor's worker is a 404.
 */
export async function workerQuality(db: Db, vendorId: string | null, workerId: string): Promise<WorkerQuality> {
  const worker = await db
    .selectFrom('workers')
    .select(['id', 'vendor_id'])
    .where('id', '=', workerId)
    .$if(vendorId !== null, (q) => q.where('vendor_id', '=', vendorId!))
    .executeTakeFirst();
  if (!worker) throw notFound('worker');
  const [skills, decisions, actions, recent] = await Promise.all([
    sql<{ skill: string; gold_total: number; gold_correct: number; fast_answers: number; suspended_at: Date | null; level: number | null }>`
      SELECT q.skill, q.gold_total, q.gold_correct, q.fast_answers, coalesce(ws.suspended_at, q.suspended_at) AS suspended_at, ws.level
      FROM qa_worker_skills q LEFT JOIN worker_skills ws ON ws.worker_id = q.worker_id AND ws.skill = q.skill
      WHERE q.worker_id = ${workerId} ORDER BY q.skill`.execute(db),
    sql<{ outcome: string; n: number }>`
      SELECT d.outcome, count(*)::int AS n FROM qa_assignment_decisions d
      WHERE d.worker_id = ${workerId} AND NOT EXISTS (SELECT 1 FROM qa_assignment_decisions s WHERE s.supersedes_decision_id = d.id)
      GROUP BY 1`.execute(db),
    db.selectFrom('qa_skill_actions').select(['action', 'skill', 'job_id', 'from_level', 'to_level', 'evidence', 'created_at']).where('worker_id', '=', workerId).orderBy('id', 'desc').limit(100).execute(),
    sql<{ assignment_id: number; job_id: string; skill: string; score: number; passed: boolean; fast: boolean; counted: boolean; scored_at: Date }>`
      SELECT g.assignment_id, g.job_id, g.skill, g.score, g.passed, g.fast, NOT EXISTS (SELECT 1 FROM qa_suspect_gold s WHERE s.task_id = g.task_id) AS counted, g.scored_at
      FROM qa_gold_scores g WHERE g.worker_id = ${workerId} ORDER BY g.scored_at DESC, g.assignment_id DESC LIMIT 50`.execute(db),
  ]);
  return {
    worker_id: worker.id,
    vendor_id: worker.vendor_id,
    skills: skills.rows.map((s) => {
      const e = accuracyEstimate(s.gold_correct, s.gold_total);
      return {
        skill: s.skill, gold_total: s.gold_total, gold_correct: s.gold_correct, accuracy: round(e.mean), accuracy_interval: { lower: round(e.lower), upper: round(e.upper) },
        fast_answers: s.fast_answers, level: s.level, suspended_at: s.suspended_at,
      };
    }),
    decisions: { accepted: decisions.rows.find((d) => d.outcome === 'accepted')?.n ?? 0, rejected: decisions.rows.find((d) => d.outcome === 'rejected')?.n ?? 0 },
    actions: actions.map((a) => ({ ...a, evidence: a.evidence as Record<string, unknown> })),
    recent_gold: recent.rows.map((r) => ({ ...r, score: round(r.score) })),
  };
}
