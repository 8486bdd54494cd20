import type { EventPayload } from '@fairlabel/contracts';
import { sql, type Database, type Db } from '@fairlabel/db';
import { queuesFor } from '@fairlabel/contracts';
import { OUTBOX_CHANNEL, publishMany, type OutboxEvent } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import { createDsState, type DsItemRecord, type DsState } from '../aggregate/incremental-ds.js';
import { trustedByGold } from '../aggregate/trust.js';
import { compareAnswers } from '../compare/answer.js';
import type { Answer } from '../compare/types.js';
import { smoothedAccuracy } from '../quality/accuracy.js';
import { clamp01, decideTask, type Annotation } from './consensus.js';
import { controlsOf, resolvePolicy, skillOf } from './policy.js';
import type { DecisionJob } from './rows.js';

export type { DecisionJob } from './rows.js';
import { scoreGold, type FastAnswer, type GoldOutcome, type GoldSubmission } from './gold.service.js';
import { sampleReviews } from '../reviews/sampling.js';
import { verifyPredictions } from '../predictions/verify.js';

type Trx = Transaction<Database>;

/** One submission of the batch with what routing it needs. */
export interface SubmissionContext {
  assignmentId: number;
  taskId: number;
  jobId: string;
  workerId: string;
  vendorId: string;
  answer: unknown;
  timeSpentMs: number | null;
  gold: unknown;
  /** The assignment is still submitted (not decided by an earlier run, released or purged). */
  submitted: boolean;
}

export type Route = 'consensus' | 'gold' | 'review' | 'automation';

/**
 * THE SEAM where a submission is routed. Today: gold items are scored at once against their gold
 * answer; every other submission waits for its task's consensus. Review sampling and model
 * predictions route here ('review': decided by a reviewer; 'automation': by the prediction policy) and
 * record the route in qa_submissions; a route other than consensus/gold is not counted toward the
 * task's consensus and is left undecided for the module that owns it.
 */
export function routeSubmission(sub: SubmissionContext, _job: DecisionJob): Route {
  return sub.gold !== null && sub.gold !== undefined ? 'gold' : 'consensus';
}

/** Assignment decisions the batch's consensus statement wrote (their events never pass through JS), by kind and outcome. */
export interface DecidedCount {
  kind: string;
  outcome: string;
  n: number;
}

export interface BatchOutcome {
  /** Consensus decisions written by SQL, counted (the `events` hold every other event the batch published). */
  decided: DecidedCount[];
  recorded: number;
  tasksDecided: number;
  assignmentsDecided: number;
  overlapRequested: number;
  gold: number;
  events: OutboxEvent[];
}

/**
 * Records a batch of `assignment.submitted` events and decides every task they complete, in ONE
 * transaction with a fixed number of statements whatever the batch size (set-based: one insert of the
 * submissions, one read of the completed tasks' answers, one insert of the decisions, one of the outbox
 * rows). Exactly once under redelivery, concurrency and a kill half-way:
 * - a submission is recorded once (qa_submissions' key); a redelivered one is recorded again as nothing;
 * - the task rows of qa_tasks are locked (in task order) before a task's completeness is read, so of two
 *   consumers recording the last submissions of a task concurrently, the second sees the first's
 *   committed count and only one decides; the unique first-decision indexes back this up;
 * - everything, events included (publishMany, the outbox), commits together or not at all, and a rerun
 *   of the same events after a kill finds what was committed and completes what was not.
 */
export async function decideSubmissions(db: Db, payloads: readonly EventPayload<'assignment.submitted'>[], now: Date): Promise<BatchOutcome> {
  const ids = [...new Set(payloads.map((p) => p.assignment_id))];
  return db.transaction().execute((trx) => decideInTransaction(trx, ids, now));
}

async function decideInTransaction(trx: Trx, assignmentIds: number[], now: Date): Promise<BatchOutcome> {
  const out: BatchOutcome = { decided: [], recorded: 0, tasksDecided: 0, assignmentsDecided: 0, overlapRequested: 0, gold: 0, events: [] };
  if (assignmentIds.length === 0) return out;

  // Plans here are for a batch's few hundred rows, but their costs follow the tables' statistics, which
  // lag far behind a fast-growing table (this server runs without autovacuum): planned costs passed
  // jit_above_cost and LLVM compiled each batch's statements anew. The batch's rows are also probed one
  // by one (unnest … LATERAL … OFFSET 0) rather than `= ANY(ids)`, which stale statistics turned into
  // scans of every submission of the job per batch (quadratic over a run).
  await sql`SET LOCAL jit = off`.execute(trx);

  // 1. What the batch's assignments are, with their tasks' gold and their jobs.
  const ctxRows = await sql<{
    id: number; task_id: number; job_id: string; worker_id: string; vendor_id: string; answer: unknown; time_spent_ms: number | null; status: string; gold: unknown;
  }>`
    SELECT a.id, a.task_id, a.job_id, a.worker_id, a.vendor_id, a.answer, a.time_spent_ms, a.status, t.gold
    FROM unnest(${assignmentIds}::bigint[]) AS x(id)
    CROSS JOIN LATERAL (SELECT * FROM assignments a WHERE a.id = x.id AND a.submitted_at IS NOT NULL OFFSET 0) a
    JOIN tasks t ON t.id = a.task_id`.execute(trx);
  const jobIds = [...new Set(ctxRows.rows.map((r) => r.job_id))];
  const jobRows = jobIds.length
    ? await trx.selectFrom('jobs').select(['id', 'client_id', 'overlap', 'required_skill', 'label_config', 'qa_policy']).where('id', 'in', jobIds).execute()
    : [];
  const jobs = new Map<string, DecisionJob>(
    jobRows.map((j) => [
      j.id,
      { id: j.id, clientId: j.client_id, overlap: j.overlap, requiredSkill: j.required_skill, skill: skillOf(j.required_skill), controls: controlsOf(j.label_config), policy: resolvePolicy(j.qa_policy, j.overlap) },
    ]),
  );
  const subs: SubmissionContext[] = ctxRows.rows.map((r) => ({
    assignmentId: r.id, taskId: r.task_id, jobId: r.job_id, workerId: r.worker_id, vendorId: r.vendor_id, answer: r.answer,
    timeSpentMs: r.time_spent_ms, gold: r.gold, submitted: r.status === 'submitted',
  }));
  if (subs.length === 0) return out;
  const routes = new Map(subs.map((s) => [s.assignmentId, routeSubmission(s, jobs.get(s.jobId)!)]));

  // 2. Record the submissions (once each) and count the consensus ones per task, locking each task's
  //    QA row in task order. Only newly recorded rows count.
  const records = subs
    .map((s) => {
      const job = jobs.get(s.jobId)!;
      const fast = job.policy.minPlausibleMs > 0 && s.timeSpentMs !== null && s.timeSpentMs < job.policy.minPlausibleMs;
      return { assignment_id: s.assignmentId, task_id: s.taskId, job_id: s.jobId, worker_id: s.workerId, vendor_id: s.vendorId, route: routes.get(s.assignmentId)!, fast, time_spent_ms: s.timeSpentMs };
    })
    .sort((a, b) => a.task_id - b.task_id);
  const recorded = await sql<{ assignment_id: number }>`
    WITH rec AS (
      INSERT INTO qa_submissions (assignment_id, task_id, job_id, worker_id, vendor_id, route, fast, time_spent_ms, received_at)
      SELECT r.assignment_id, r.task_id, r.job_id, r.worker_id, r.vendor_id, r.route, r.fast, r.time_spent_ms, ${now}
      FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
        AS r(assignment_id bigint, task_id bigint, job_id uuid, worker_id uuid, vendor_id uuid, route text, fast boolean, time_spent_ms integer)
      ON CONFLICT (assignment_id) DO NOTHING
      RETURNING assignment_id, task_id, job_id, route
    ), counted AS (
      INSERT INTO qa_tasks (task_id, job_id, submissions)
      SELECT task_id, job_id, count(*) FROM rec WHERE route = 'consensus' GROUP BY task_id, job_id ORDER BY task_id
      ON CONFLICT (task_id) DO UPDATE SET submissions = qa_tasks.submissions + EXCLUDED.submissions, updated_at = ${now}
      RETURNING 1
    )
    SELECT assignment_id FROM rec, (SELECT count(*) FROM counted) c`.execute(trx);
  out.recorded = recorded.rows.length;

  // 3. Gold answers are scored at once (gold.service), whether recorded now or on an earlier delivery
  //    that did not commit its decision (the decision's unique index makes the second a no-op).
  const goldSubs: GoldSubmission[] = subs
    .filter((s) => routes.get(s.assignmentId) === 'gold' && s.submitted)
    .map((s) => ({ ...s, job: jobs.get(s.jobId)!, fast: records.find((r) => r.assignment_id === s.assignmentId)!.fast }));
  // Fast consensus answers recorded now count as failed gold (fraud rule).
  const fresh = new Set(recorded.rows.map((r) => Number(r.assignment_id)));
  // Review sampling (reviews/sampling.ts): a sampled consensus submission also gets a pending review.
  await sampleReviews(trx, subs.filter((s) => fresh.has(s.assignmentId) && routes.get(s.assignmentId) === 'consensus'), jobs);
  const fastAnswers: FastAnswer[] = records
    .filter((r) => r.fast && r.route === 'consensus' && fresh.has(r.assignment_id))
    .map((r) => ({ worker_id: r.worker_id, vendor_id: r.vendor_id, job: jobs.get(r.job_id)! }));
  let gold: GoldOutcome = { decisions: [], events: [] };
  if (goldSubs.length || fastAnswers.length) gold = await scoreGold(trx, goldSubs, now, fastAnswers);
  out.gold = gold.decisions.length;

  // 4. The consensus tasks the batch touched, locked in task order, and those now complete.
  const touched = [...new Set(subs.filter((s) => routes.get(s.assignmentId) === 'consensus').map((s) => s.taskId))].sort((a, b) => a - b);
  const decisionEvents: OutboxEvent[] = [];
  if (touched.length) {
    // prediction_mode verify (predictions/verify.ts): an answer agreeing with a qualifying prediction decides its task first.
    decisionEvents.push(...(await verifyPredictions(trx, subs.filter((s) => routes.get(s.assignmentId) === 'consensus'), touched, jobs, now)));
    const consensus = await decideTasks(trx, touched, jobs, now);
    out.tasksDecided = consensus.tasksDecided;
    out.assignmentsDecided = consensus.assignmentsDecided;
    out.overlapRequested = consensus.overlapRequested;
    out.decided = consensus.decided;
    decisionEvents.push(...consensus.events);
  }
  out.assignmentsDecided += gold.decisions.length;
  out.events = [...gold.events, ...decisionEvents];
  await publishMany(trx, out.events);
  return out;
}

interface TaskState {
  task_id: number;
  job_id: string;
  submissions: number;
  overlap_requested: number | null;
  ds_records: Record<string, DsItemRecord> | null;
  decision_id: number | null;
  required_annotations: number;
  task_status: string;
}

interface AnswerRow {
  assignment_id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  answer: unknown;
  level: number | null;
  decided: boolean;
  /** Decided before its task (a review accepted it): it still votes, but is not judged again. */
  accepted_early: boolean;
}

async function decideTasks(trx: Trx, taskIds: number[], jobs: Map<string, DecisionJob>, now: Date) {
  const res = { tasksDecided: 0, assignmentsDecided: 0, overlapRequested: 0, events: [] as OutboxEvent[], decided: [] as DecidedCount[] };
  const states = (
    await sql<TaskState>`
      SELECT q.task_id, q.job_id, q.submissions, q.overlap_requested, q.ds_records, q.decision_id, t.required_annotations, t.status AS task_status
      FROM unnest(${taskIds}::bigint[]) AS x(id)
      -- Locked as probed, so in the order of taskIds: task order (the caller sorts them).
      CROSS JOIN LATERAL (SELECT * FROM qa_tasks q WHERE q.task_id = x.id FOR UPDATE) q
      JOIN tasks t ON t.id = q.task_id
      ORDER BY q.task_id`.execute(trx)
  ).rows;
  const required = (s: TaskState) => Math.max(s.required_annotations, s.overlap_requested ?? 0);
  // Complete and undecided; and decided tasks that got a late answer (judged against the decision).
  const ready = states.filter((s) => s.decision_id === null && s.task_status === 'open' && s.submissions >= required(s));
  const late = states.filter((s) => s.decision_id !== null);
  if (ready.length === 0 && late.length === 0) return res;

  const answers = (
    await sql<AnswerRow>`
      SELECT s.assignment_id, s.task_id, s.job_id, s.worker_id, s.vendor_id, a.answer, ws.level,
             cur.outcome IS NOT NULL AS decided, coalesce(cur.outcome = 'accepted', false) AS accepted_early
      FROM unnest(${[...ready, ...late].map((s) => s.task_id)}::bigint[]) AS t(id)
      CROSS JOIN LATERAL (SELECT * FROM qa_submissions s WHERE s.task_id = t.id AND s.route = 'consensus' OFFSET 0) s
      JOIN assignments a ON a.id = s.assignment_id
      JOIN jobs j ON j.id = s.job_id
      LEFT JOIN worker_skills ws ON ws.worker_id = s.worker_id AND ws.skill = j.required_skill
      -- The decision in force: the last of the assignment's chain.
      LEFT JOIN LATERAL (SELECT d.outcome FROM qa_assignment_decisions d WHERE d.assignment_id = s.assignment_id ORDER BY d.id DESC LIMIT 1) cur ON true
      WHERE a.status IN ('submitted', 'accepted', 'rejected')
      ORDER BY s.task_id, s.assignment_id`.execute(trx)
  ).rows;
  const byTask = new Map<number, AnswerRow[]>();
  for (const a of answers) byTask.set(a.task_id, [...(byTask.get(a.task_id) ?? []), a]);

  // Gold records of every annotator, for trust and accuracy weights.
  const workers = [...new Set(answers.map((a) => a.worker_id))];
  const skills = [...new Set([...jobs.values()].map((j) => j.skill))];
  const quality = new Map<string, { total: number; correct: number }>();
  if (workers.length) {
    const rows = await sql<{ worker_id: string; skill: string; gold_total: number; gold_correct: number }>`
      SELECT worker_id, skill, gold_total, gold_correct FROM qa_worker_skills
      WHERE worker_id = ANY(${workers}::uuid[]) AND skill = ANY(${skills}::text[])`.execute(trx);
    for (const r of rows.rows) quality.set(`${r.worker_id}/${r.skill}`, { total: r.gold_total, correct: r.gold_correct });
  }

  // Incremental Dawid–Skene: the state rows of the jobs' categorical controls, created when missing and locked.
  const dsKeys = [...new Set(ready.map((s) => s.job_id))]
    .map((id) => jobs.get(id)!)
    .filter((j) => j.policy.method === 'dawid_skene')
    .flatMap((j) => j.controls.filter((c) => c.labels).map((c) => ({ job_id: j.id, control: c.name, state: createDsState(c.labels!) })));
  const dsStates = new Map<string, Map<string, DsState>>();
  if (dsKeys.length) {
    dsKeys.sort((a, b) => (a.job_id + a.control < b.job_id + b.control ? -1 : 1));
    await sql`
      INSERT INTO qa_ds_states (job_id, control, state)
      SELECT k.job_id, k.control, k.state FROM jsonb_to_recordset(${JSON.stringify(dsKeys)}::jsonb) AS k(job_id uuid, control text, state jsonb)
      ON CONFLICT (job_id, control) DO NOTHING`.execute(trx);
    const rows = await sql<{ job_id: string; control: string; state: DsState }>`
      SELECT job_id, control, state FROM qa_ds_states
      WHERE (job_id, control) IN (SELECT k.job_id, k.control FROM jsonb_to_recordset(${JSON.stringify(dsKeys)}::jsonb) AS k(job_id uuid, control text))
      ORDER BY job_id, control FOR UPDATE`.execute(trx);
    for (const r of rows.rows) {
      if (!dsStates.has(r.job_id)) dsStates.set(r.job_id, new Map());
      dsStates.get(r.job_id)!.set(r.control, r.state);
    }
  }

  // Decision rows as the statement below takes them: ids come from the tables' sequences in that
  // statement, and an assignment decision of a task decided now names its task decision by task_id.
  const taskDecisions: Record<string, unknown>[] = [];
  const assignmentDecisions: Record<string, unknown>[] = [];
  const taskUpdates: { task_id: number; decided: boolean; ds_records: Record<string, DsItemRecord> | null; overlap_requested: number | null }[] = [];
  const dsItems = new Map<string, number>();
  const decidedAt = now.toISOString();
  const decision = (row: AnswerRow, job: DecisionJob, taskDecisionId: number | null, pass: boolean, score: number, reason: string) => ({
    assignment_id: row.assignment_id, task_id: row.task_id, job_id: row.job_id, client_id: job.clientId, worker_id: row.worker_id, vendor_id: row.vendor_id,
    task_decision_id: taskDecisionId, outcome: pass ? 'accepted' : 'rejected', score, reason, worker_level: job.requiredSkill === null ? null : row.level,
  });

  for (const s of ready) {
    const job = jobs.get(s.job_id)!;
    // Answers already rejected (their worker was suspended, a reviewer rejected them) no longer count;
    // one a reviewer accepted still votes (reviews/reviews.service.ts) but keeps its decision.
    const rows = (byTask.get(s.task_id) ?? []).filter((r) => !r.decided || r.accepted_early);
    const annotations: Annotation[] = rows.map((r) => ({ assignmentId: r.assignment_id, workerId: r.worker_id, answer: r.answer }));
    const q = (w: string) => quality.get(`${w}/${job.skill}`) ?? { total: 0, correct: 0 };
    const consensus = decideTask(
      job.controls,
      job.policy,
      annotations,
      { accuracy: (w) => smoothedAccuracy(q(w).correct, q(w).total), trusted: (w) => trustedByGold(q(w).total, q(w).correct) },
      dsStates.get(job.id) ?? new Map(),
      s.ds_records,
    );
    for (const control of Object.keys(consensus.dsRecords)) dsItems.set(`${job.id}/${control}`, (dsItems.get(`${job.id}/${control}`) ?? 0) + (s.ds_records?.[control] ? 0 : 1));
    const dsRecords = Object.keys(consensus.dsRecords).length ? { ...(s.ds_records ?? {}), ...consensus.dsRecords } : s.ds_records;
    const n = annotations.length;
    // Dynamic overlap: not sure enough and room for one more annotation.
    if (consensus.confidence < job.policy.minAgreement && n < job.policy.maxOverlap) {
      taskUpdates.push({ task_id: s.task_id, decided: false, ds_records: dsRecords, overlap_requested: n + 1 });
      res.events.push({ event: 'task.overlap_requested', payload: { task_id: s.task_id, job_id: job.id, required_annotations: n + 1 } });
      res.overlapRequested++;
      continue;
    }
    taskDecisions.push({
      task_id: s.task_id, job_id: job.id, client_id: job.clientId, result: consensus.result, agreement: consensus.agreement,
      confidence: consensus.confidence, method: job.policy.method, annotations: n, extra_annotations: Math.max(0, n - job.overlap),
    });
    taskUpdates.push({ task_id: s.task_id, decided: true, ds_records: dsRecords, overlap_requested: null });
    consensus.judged.forEach((j, i) => {
      const row = rows[i]!;
      if (row.decided) return;
      assignmentDecisions.push(decision(row, job, null, j.pass, j.score, j.pass ? 'agrees with the consensus' : 'disagrees with the consensus'));
    });
  }

  // Late answers (a task QA decided before task-dispatch closed it): judged against the decision.
  if (late.length) {
    const lateRows = late.flatMap((s) => (byTask.get(s.task_id) ?? []).filter((r) => !r.decided).map((r) => ({ r, decisionId: s.decision_id! })));
    if (lateRows.length) {
      const results = new Map(
        (await sql<{ id: number; result: unknown }>`SELECT id, result FROM qa_task_decisions WHERE id = ANY(${lateRows.map((l) => l.decisionId)}::bigint[])`.execute(trx)).rows.map((r) => [r.id, r.result]),
      );
      for (const { r, decisionId } of lateRows) {
        const job = jobs.get(r.job_id)!;
        const c = compareAnswers(job.controls, r.answer as Answer, results.get(decisionId) as Answer);
        assignmentDecisions.push(decision(r, job, decisionId, c.pass, clamp01(c.score), 'arrived after the task was decided; judged against its result'));
      }
    }
  }

  // ONE statement writes the batch's decisions, QA's task rows, the Dawid–Skene states and the
  // decisions' events: the outbox rows (`assignment.decided`, `task.decided`, one per subscribing queue)
  // are built here from the rows just inserted, so the decisions' ids need no round trip of their own
  // and no payload travels twice. Their payloads are exactly the events' schemas (decide.test.ts parses
  // every one); Postgres sends the relay's NOTIFY at commit.
  const dsUpdates = [...dsStates].flatMap(([jobId, m]) => [...m].map(([control, state]) => ({ job_id: jobId, control, state, items: dsItems.get(`${jobId}/${control}`) ?? 0 })));
  const written = await sql<{ tasks: number; decided: { kind: string; outcome: string; n: number }[] | null }>`
    WITH tdx AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(taskDecisions)}::jsonb) AS x(task_id bigint, job_id uuid, client_id uuid, result jsonb,
        agreement double precision, confidence double precision, method text, annotations integer, extra_annotations integer)
    ), td AS (
      INSERT INTO qa_task_decisions (task_id, job_id, client_id, result, agreement, confidence, method, annotations, extra_annotations, decided_at)
      SELECT task_id, job_id, client_id, result, agreement, confidence, method, annotations, extra_annotations, ${decidedAt}::timestamptz FROM tdx ORDER BY task_id
      RETURNING id, task_id
    ), adx AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(assignmentDecisions)}::jsonb) AS x(assignment_id bigint, task_id bigint, job_id uuid, client_id uuid,
        worker_id uuid, vendor_id uuid, task_decision_id bigint, outcome text, score real, reason text, worker_level smallint)
    ), ad AS (
      INSERT INTO qa_assignment_decisions (assignment_id, task_id, job_id, client_id, worker_id, vendor_id, task_decision_id, outcome, kind, score, reason, worker_level, decided_at)
      SELECT x.assignment_id, x.task_id, x.job_id, x.client_id, x.worker_id, x.vendor_id, coalesce(x.task_decision_id, td.id), x.outcome, 'annotation', x.score, x.reason,
             x.worker_level, ${decidedAt}::timestamptz
      FROM adx x LEFT JOIN td ON x.task_decision_id IS NULL AND td.task_id = x.task_id
      ORDER BY x.assignment_id
      RETURNING id, assignment_id, task_id, job_id, client_id, worker_id, vendor_id, outcome, kind, worker_level
    ), qt AS (
      UPDATE qa_tasks q SET decision_id = coalesce(td.id, q.decision_id), ds_records = x.ds_records,
        overlap_requested = coalesce(x.overlap_requested, q.overlap_requested), updated_at = ${now}
      FROM jsonb_to_recordset(${JSON.stringify(taskUpdates)}::jsonb) AS x(task_id bigint, decided boolean, ds_records jsonb, overlap_requested smallint)
      LEFT JOIN td ON x.decided AND td.task_id = x.task_id
      WHERE q.task_id = x.task_id
      RETURNING 1
    ), ds AS (
      UPDATE qa_ds_states s SET state = x.state, items = s.items + x.items, updated_at = ${now}
      FROM jsonb_to_recordset(${JSON.stringify(dsUpdates)}::jsonb) AS x(job_id uuid, control text, state jsonb, items integer)
      WHERE s.job_id = x.job_id AND s.control = x.control
      RETURNING 1
    ), judged AS (
      SELECT task_id, jsonb_agg(assignment_id ORDER BY assignment_id) FILTER (WHERE outcome = 'accepted') AS accepted,
             jsonb_agg(assignment_id ORDER BY assignment_id) FILTER (WHERE outcome = 'rejected') AS rejected
      FROM ad GROUP BY task_id
    ), ob AS (
      INSERT INTO outbox (event, queue, payload)
      SELECT 'assignment.decided', q.queue, jsonb_build_object('decision_id', ad.id, 'assignment_id', ad.assignment_id, 'task_id', ad.task_id, 'job_id', ad.job_id,
               'client_id', ad.client_id, 'worker_id', ad.worker_id, 'vendor_id', ad.vendor_id, 'outcome', ad.outcome, 'kind', ad.kind, 'worker_level', ad.worker_level,
               'supersedes_decision_id', NULL, 'decided_at', ${decidedAt}::text)
      FROM ad CROSS JOIN unnest(${queuesFor('assignment.decided')}::text[]) AS q(queue)
      UNION ALL
      SELECT 'task.decided', q.queue, jsonb_build_object('task_id', td.task_id, 'job_id', x.job_id, 'client_id', x.client_id, 'decision_id', td.id, 'agreement', x.agreement,
               'automated', false, 'accepted_assignment_ids', coalesce(j.accepted, '[]'), 'rejected_assignment_ids', coalesce(j.rejected, '[]'), 'decided_at', ${decidedAt}::text)
      FROM td JOIN tdx x ON x.task_id = td.task_id LEFT JOIN judged j ON j.task_id = td.task_id
      CROSS JOIN unnest(${queuesFor('task.decided')}::text[]) AS q(queue)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM td)::int AS tasks,
           (SELECT jsonb_agg(c) FROM (SELECT kind, outcome, count(*)::int AS n FROM ad GROUP BY kind, outcome) c) AS decided,
           (SELECT count(*) FROM qt) AS qt, (SELECT count(*) FROM ds) AS ds,
           CASE WHEN (SELECT count(*) FROM ob) > 0 THEN pg_notify(${OUTBOX_CHANNEL}, '') END AS notified`.execute(trx);
  const w = written.rows[0]!;
  res.tasksDecided = w.tasks;
  res.decided = w.decided ?? [];
  res.assignmentsDecided = assignmentDecisions.length;
  return res;
}

