import { answerContextKey, answerContextOf, answerSchemaFor, issuesOf, parseLabelConfig, type AnswerContext, type LabelConfig } from '@fairlabel/contracts';
import { sql, type Database, type Db } from '@fairlabel/db';
import { conflict, notFound, unprocessable } from '@fairlabel/http';
import { OUTBOX_CHANNEL, outboxRowsJson, publish } from '@fairlabel/queues';
import type { Transaction } from 'kysely';
import type { z } from 'zod';
import type { LeaseDeps } from './leases.service.js';
import { batcherPer, eachOrAlone, MicroBatcher, type Outcome } from './micro-batcher.js';
import { runPrepared } from './prepared.js';
import { refusalColumns, refusalError, refusalJoins, type RefusalFacts } from './refusals.js';
import { cacheKey, ProcessCache } from './process-cache.js';

/** What the caches need: the database handle that scopes them and the clock their TTL runs on. */
type CacheDeps = Pick<LeaseDeps, 'db' | 'clock'>;

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

interface JobAnswerRules {
  labelConfig: LabelConfig;
}

/**
 * Per job, its label config, and the answer schemas built from it per the part of the answer context
 * that matters to it. The config is a draft-only field (PATCH refuses it once a job has been active),
 * and only an active job's tasks are ever assigned, so an entry never goes stale; the TTL only returns memory.
 */
const rulesByJob = new ProcessCache<JobAnswerRules>({ max: 10_000, ttlMs: 60 * 60_000 });
const schemasByJobAndContext = new ProcessCache<z.ZodType>({ max: 20_000, ttlMs: 60 * 60_000 });

/** `deps.db` scopes the caches; `reader` is where a miss is read (the caller's transaction, if any). */
async function answerSchema(deps: CacheDeps, reader: Db | Transaction<Database>, jobId: string, context: AnswerContext): Promise<z.ZodType> {
  const rulesCache = rulesByJob.in(deps.db, deps.clock);
  let rules = rulesCache.get(jobId);
  if (!rules) {
    const job = await sql<{ label_config: unknown }>`SELECT label_config FROM jobs WHERE id = ${jobId}::uuid`.execute(reader);
    rules = { labelConfig: parseLabelConfig(job.rows[0]!.label_config) };
    rulesCache.set(jobId, rules);
  }
  const schemas = schemasByJobAndContext.in(deps.db, deps.clock);
  const key = cacheKey(jobId, answerContextKey(rules.labelConfig, context));
  let schema = schemas.get(key);
  if (!schema) {
    schema = answerSchemaFor(rules.labelConfig, context);
    schemas.set(key, schema);
  }
  return schema;
}

export interface SubmittedRow {
  id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  vendor_id: string;
  status: 'submitted' | 'accepted' | 'rejected';
  answer: unknown;
  time_spent_ms: number | null;
  submitted_at: Date;
}

const resultOf = (row: SubmittedRow) => ({
  id: row.id,
  task_id: row.task_id,
  job_id: row.job_id,
  status: row.status,
  answer: row.answer,
  time_spent_ms: row.time_spent_ms ?? 0,
  submitted_at: row.submitted_at,
});

/** What a claim made in this process knows about its assignment: enough to validate a submit before writing it. */
export interface ClaimedFacts {
  task_id: number;
  job_id: string;
  vendor_id: string;
  context: AnswerContext;
}

/**
 * Assignments claimed in this process, so their submit can skip reading them back; keyed by the
 * assignment and its worker (the submit names both). A submit that reaches another process (or follows
 * a restart or an eviction) reads the same facts from the database instead.
 */
const claimedHere = new ProcessCache<ClaimedFacts>({ max: 100_000, ttlMs: 60 * 60_000 });

/** Called by the claim with what it has just leased (the task's payload bounds a valid answer). */
export function rememberClaim(deps: CacheDeps, assignment: { id: number; task_id: number; job_id: string; payload: unknown }, workerId: string, vendorId: string): void {
  claimedHere.in(deps.db, deps.clock).set(cacheKey(assignment.id, workerId), {
    task_id: assignment.task_id,
    job_id: assignment.job_id,
    vendor_id: vendorId,
    context: answerContextOf(assignment.payload),
  });
}

/**
 * The holder's answer for a live lease, validated against the job's label config, written with its
 * `assignment.submitted` event in one transaction. Submitting the same answer again returns the
 * first result (a retry after a lost response); a different answer for a submitted assignment is a
 * 409, as is any submit after the lease expired.
 */
export async function submit(deps: LeaseDeps, assignmentId: number, workerId: string, answer: unknown, timeSpentMs: number) {
  const now = deps.clock.now();
  const written = await submitInOneStatement(deps, assignmentId, workerId, answer, timeSpentMs, now);
  if (written) return written;
  return deps.db.transaction().execute((trx) => submitChecked(deps, trx, assignmentId, workerId, answer, timeSpentMs, now));
}

function unstorable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code === '54001');
}

/**
 * The common case, a valid answer from the holder of a live lease: validated first, then written with
 * its event by one statement that matches only the holder's live lease (an UPDATE and the outbox
 * INSERT in one call of wa_submit). Null when that is not the case or cannot be told without the
 * ordered checks: not claimed here and not a live lease when read, an invalid answer, a statement that
 * matched nothing (expired or submitted meanwhile) or an answer Postgres cannot store (a \u0000 in a
 * string, nesting too deep). The caller then decides by the checks in their order.
 */
async function submitInOneStatement(deps: LeaseDeps, assignmentId: number, workerId: string, answer: unknown, timeSpentMs: number, now: Date) {
  const { db, pool } = deps;
  const claimed = claimedHere.in(db, deps.clock);
  const factsKey = cacheKey(assignmentId, workerId);
  let facts = claimed.get(factsKey);
  if (!facts) {
    const read = await runPrepared(pool, db, sql<{ task_id: number; job_id: string; vendor_id: string; payload: unknown }>`
      SELECT a.task_id, a.job_id, a.vendor_id, t.payload
      FROM assignments a JOIN tasks t ON t.id = a.task_id
      WHERE a.id = ${assignmentId} AND a.worker_id = ${workerId}::uuid AND a.status = 'leased' AND a.lease_expires_at > ${now}::timestamptz
    `);
    const row = read[0];
    if (!row) return null;
    facts = { task_id: row.task_id, job_id: row.job_id, vendor_id: row.vendor_id, context: answerContextOf(row.payload) };
  }
  const checked = (await answerSchema(deps, db, facts.job_id, facts.context)).safeParse(answer);
  if (!checked.success) return null;
  const outbox = outboxRowsJson('assignment.submitted', {
    assignment_id: assignmentId,
    task_id: facts.task_id,
    job_id: facts.job_id,
    worker_id: workerId,
    vendor_id: facts.vendor_id,
  });
  try {
    // One statement, atomic without BEGIN/COMMIT; wa_submit (packages/db/sql/wa_submit.sql) matches only
    // the holder's live lease of the remembered task that may still take an answer, and writes the event
    // only if it did. Submits arriving together in this process go as one call (wa_submit_batch).
    const row = await submitBatcher(deps).add({ id: assignmentId, workerId, now, answer: JSON.stringify(checked.data), timeSpentMs, facts, outbox });
    if (!row) return null;
    claimed.delete(factsKey);
    return resultOf(row);
  } catch (err) {
    if (unstorable(err)) return null;
    throw err;
  }
}

/** wa_submit's parameters but the channel; `answer` and `outbox` are JSON text. */
export interface SubmitRequest {
  id: number;
  workerId: string;
  now: Date;
  answer: string;
  timeSpentMs: number;
  facts: ClaimedFacts;
  outbox: string;
}

const submitQuery = (q: SubmitRequest) => sql<SubmittedRow>`
  SELECT * FROM wa_submit(${q.id}, ${q.workerId}::uuid, ${q.now}::timestamptz, ${q.answer}::jsonb, ${q.timeSpentMs},
                          ${q.facts.task_id}, ${q.facts.job_id}::uuid, ${q.facts.vendor_id}::uuid, ${q.outbox}::jsonb, ${OUTBOX_CHANNEL})
`;

/** One element of wa_submit_batch's array, spliced from the JSON texts the caller already holds. */
const submitJson = (q: SubmitRequest) =>
  `{"id":${q.id},"worker_id":${JSON.stringify(q.workerId)},"now":"${q.now.toISOString()}","answer":${q.answer},"time_spent_ms":${q.timeSpentMs},` +
  `"task_id":${q.facts.task_id},"job_id":${JSON.stringify(q.facts.job_id)},"vendor_id":${JSON.stringify(q.facts.vendor_id)},"outbox":${q.outbox}}`;

/**
 * The submit's group commit: submits that arrive together go as one call of wa_submit_batch (one
 * transaction, one commit), which runs wa_submit for each in arrival order; a row of nulls is "matched
 * nothing", as no row is from wa_submit. A submit arriving alone is one call of wa_submit. If Postgres
 * refuses the batch (an answer it cannot store, say), each submit runs alone and meets its own fate.
 */
export const SUBMIT_BATCHING = { maxBatch: 64, maxInFlight: 2, windowMs: 0 };

/** Submits run together (as the batcher hands them over): one outcome per submit, in order. */
export function runSubmitBatch({ pool, db }: Pick<LeaseDeps, 'pool' | 'db'>, requests: SubmitRequest[]): Promise<Outcome<SubmittedRow | null>[]> {
  return eachOrAlone(
    requests,
    async (all) => {
      const json = `[${all.map(submitJson).join(',')}]`;
      const rows = await runPrepared(
        pool,
        db,
        sql<SubmittedRow | { id: null }>`SELECT b.* FROM wa_submit_batch(${json}::jsonb, ${OUTBOX_CHANNEL}) WITH ORDINALITY b ORDER BY b.ordinality`,
      );
      if (rows.length !== all.length) throw new Error(`wa_submit_batch returned ${rows.length} rows for ${all.length} submits`);
      return rows.map((r) => (r.id === null ? null : (r as SubmittedRow)));
    },
    async (q) => (await runPrepared(pool, db, submitQuery(q)))[0] ?? null,
  );
}

const submitBatcher = batcherPer(
  (deps: LeaseDeps) => deps.pool,
  (deps: LeaseDeps) => new MicroBatcher<SubmitRequest, SubmittedRow | null>((requests) => runSubmitBatch(deps, requests), SUBMIT_BATCHING),
);

/**
 * The assignment read, locked and checked in order: not the holder's (404), already submitted (replay
 * or 409), the worker or their skill suspended (403), the task closed or the job cancelled or
 * completed (409 `task_closed`; wa_answer_refused.sql has the rule), no live lease (409), invalid
 * answer (422); then the validated answer is written with its event.
 */
async function submitChecked(deps: CacheDeps, trx: Transaction<Database>, assignmentId: number, workerId: string, answer: unknown, timeSpentMs: number, now: Date) {
  const found = await sql<SubmittedRow & RefusalFacts & { status: string; lease_expires_at: Date; payload: unknown }>`
    SELECT a.id, a.task_id, a.job_id, a.worker_id, a.vendor_id, a.status, a.answer, a.time_spent_ms, a.submitted_at, a.lease_expires_at, t.payload,
           ${refusalColumns}
    FROM assignments a
    ${refusalJoins}
    WHERE a.id = ${assignmentId} AND a.worker_id = ${workerId}::uuid
    FOR UPDATE OF a
  `.execute(trx);
  const a = found.rows[0];
  if (!a) throw notFound('assignment');
  if (a.status === 'submitted' || a.status === 'accepted' || a.status === 'rejected') {
    // Compared after validation, as stored: a retry of the same answer matches however it was formatted.
    const again = (await answerSchema(deps, trx, a.job_id, answerContextOf(a.payload))).safeParse(answer);
    if (canonicalJson(again.success ? again.data : answer) === canonicalJson(a.answer)) return resultOf(a);
    throw conflict('already_submitted', 'this assignment was already submitted with a different answer', [{ path: 'body.answer', message: 'differs from the submitted answer' }]);
  }
  if (a.refused) throw refusalError({ ...a, refused: a.refused });
  if (a.status === 'expired' || (a.status === 'leased' && a.lease_expires_at <= now)) {
    throw conflict('lease_expired', `the lease expired at ${a.lease_expires_at.toISOString()}; the answer was not accepted`);
  }
  if (a.status !== 'leased') throw conflict('lease_not_active', `the assignment is ${a.status}, not leased`);

  const accepted = await validAnswer(deps, trx, a.job_id, a.payload, answer);
  const updated = await sql<SubmittedRow>`
    UPDATE assignments
    SET status = 'submitted', answer = ${JSON.stringify(accepted)}::jsonb, time_spent_ms = ${timeSpentMs}, submitted_at = ${now}::timestamptz, ended_at = ${now}::timestamptz
    WHERE id = ${a.id}
    RETURNING id, task_id, job_id, worker_id, vendor_id, status, answer, time_spent_ms, submitted_at
  `.execute(trx);
  return published(trx, updated.rows[0]!);
}

/** The answer as the job's schema accepts it, or a 422 naming each failing field. */
async function validAnswer(deps: CacheDeps, trx: Transaction<Database>, jobId: string, payload: unknown, answer: unknown): Promise<unknown> {
  const checked = (await answerSchema(deps, trx, jobId, answerContextOf(payload))).safeParse(answer);
  if (checked.success) return checked.data;
  throw unprocessable(
    'invalid_answer',
    "the answer does not fit the job's label config",
    issuesOf(checked.error).map((i) => ({ path: i.path ? `body.answer.${i.path}` : 'body.answer', message: i.message })),
  );
}

async function published(trx: Transaction<Database>, row: SubmittedRow) {
  await publish(trx, 'assignment.submitted', { assignment_id: row.id, task_id: row.task_id, job_id: row.job_id, worker_id: row.worker_id, vendor_id: row.vendor_id });
  return resultOf(row);
}
