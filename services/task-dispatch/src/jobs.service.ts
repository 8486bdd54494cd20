import { sql, type Db } from '@fairlabel/db';
import type { Database, JobStatus, JobsTable } from '@fairlabel/db';
import {
  draftOnlyJobFields,
  labelConfigFromLegacy,
  parseLabelConfig,
  safeParseLabelConfig,
  safeParseLegacyLabelConfig,
  taskTypeOf,
  type CreateJobBody,
  type EventPayload,
  type LabelConfig,
  type LabelIssue,
  type TaskTypeName,
  type UpdateJobBody,
} from '@fairlabel/contracts';
import { conflict, decodeCursor, notFound, pageResult, unprocessable } from '@fairlabel/http';
import { publish } from '@fairlabel/queues';
import type { Selectable, Transaction, Updateable } from 'kysely';
import { taskSlotsOf } from './task-slots.js';
import { labelConfigFromXml, labelConfigToXml, LabelStudioConfigError } from './labelstudio/xml.js';

export type JobRow = Selectable<JobsTable>;
export type JobAction = 'activate' | 'pause' | 'resume' | 'cancel';

/** Which states each client action may start from, and where it leads. Completion is not a client action: the consumer does it. */
export const jobTransitions: Record<JobAction, { from: readonly JobStatus[]; to: JobStatus }> = {
  activate: { from: ['draft'], to: 'active' },
  pause: { from: ['active'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  cancel: { from: ['draft', 'active', 'paused'], to: 'cancelled' },
};

function invalidConfig(message: string, issues: (LabelIssue & { line?: number; tag?: string })[], prefix = 'body.label_config') {
  return unprocessable(
    'invalid_label_config',
    message,
    issues.map((i) => ({ ...i, path: i.path.startsWith('line ') ? `${prefix} ${i.path}` : [prefix, i.path].filter(Boolean).join('.') })),
  );
}

export interface ResolvedLabelConfig {
  config: LabelConfig;
  /** The Label Studio XML it came from, kept to give back unchanged. */
  xml: string | null;
  taskType: TaskTypeName | 'custom';
}

/**
 * The v2 config a job stores, from any form the API takes: a v2 config, Label Studio XML (a string,
 * `label_config_format: "labelstudio"`), or with `task_type` the first API's per-type form, converted.
 * A wrong config is a 422 `invalid_label_config` naming each field (XML: the tag and its line).
 */
export function resolveLabelConfig(input: { task_type?: TaskTypeName | undefined; label_config: unknown; label_config_format?: 'fairlabel' | 'labelstudio' | undefined }): ResolvedLabelConfig {
  const { task_type: taskType, label_config: config } = input;
  const format = input.label_config_format ?? (typeof config === 'string' ? 'labelstudio' : 'fairlabel');
  if (format === 'labelstudio') {
    if (typeof config !== 'string') throw invalidConfig('a Label Studio label_config is its XML, as a string', [{ path: '', message: 'expected a string of XML' }]);
    if (taskType !== undefined) throw invalidConfig('task_type goes with the first API\'s config form, not with Label Studio XML', [{ path: '', message: 'drop task_type' }], 'body.task_type');
    try {
      const parsed = labelConfigFromXml(config);
      return { config: parsed, xml: config, taskType: taskTypeOf(parsed) as ResolvedLabelConfig['taskType'] };
    } catch (err) {
      if (err instanceof LabelStudioConfigError) throw invalidConfig(`label_config is not a Label Studio config this platform can run: ${err.message}`, err.issues);
      throw err;
    }
  }
  if (typeof config === 'string') throw invalidConfig('a string label_config is Label Studio XML: send label_config_format "labelstudio"', [{ path: '', message: 'expected an object' }]);
  const isV2 = typeof config === 'object' && config !== null && 'controls' in config;
  if (taskType !== undefined && !isV2) {
    const legacy = safeParseLegacyLabelConfig(taskType, config);
    if (!legacy.success) {
      throw invalidConfig(`label_config is not a valid ${taskType} config: ${legacy.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, legacy.issues);
    }
    return { config: labelConfigFromLegacy(taskType, legacy.config), xml: null, taskType };
  }
  const result = safeParseLabelConfig(config);
  if (!result.success) {
    throw invalidConfig(`label_config is not a valid config: ${result.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, result.issues);
  }
  const kind = taskTypeOf(result.config) as ResolvedLabelConfig['taskType'];
  if (taskType !== undefined && taskType !== kind) {
    throw invalidConfig(`task_type ${taskType} does not match the config (a ${kind} config); leave task_type out with a v2 config`, [{ path: '', message: `the config is ${kind}` }], 'body.task_type');
  }
  return { config: result.config, xml: null, taskType: kind };
}

/** The job's config as Label Studio XML: the XML it was created from, else written from the config. */
export function labelConfigXmlOf(job: Pick<JobRow, 'label_config' | 'label_config_xml'>): string {
  return job.label_config_xml ?? labelConfigToXml(parseLabelConfig(job.label_config));
}

function checkShareCaps(allowlist: string[] | null, caps: Record<string, number>) {
  if (!allowlist) return;
  const allowed = new Set(allowlist);
  const stray = Object.keys(caps).filter((v) => !allowed.has(v));
  if (stray.length) {
    throw unprocessable(
      'invalid_share_caps',
      'vendor_share_caps names vendors that are not on vendor_allowlist',
      stray.map((v) => ({ path: `body.vendor_share_caps.${v}`, message: 'not on vendor_allowlist' })),
    );
  }
}

export async function createJob(db: Db, clientId: string, body: CreateJobBody): Promise<JobRow> {
  const { task_type: _taskType, label_config: _config, label_config_format: _format, ...fields } = body;
  const resolved = resolveLabelConfig(body);
  checkShareCaps(body.vendor_allowlist, body.vendor_share_caps);
  return db
    .insertInto('jobs')
    .values({
      ...fields,
      client_id: clientId,
      task_type: resolved.taskType,
      label_config: JSON.stringify(resolved.config),
      label_config_xml: resolved.xml,
      vendor_share_caps: JSON.stringify(body.vendor_share_caps),
      qa_policy: JSON.stringify(body.qa_policy),
      pay_policy: JSON.stringify(body.pay_policy),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A job of this client, or undefined: another client's job is indistinguishable from none. */
export async function findJob(db: Db | Transaction<Database>, clientId: string, jobId: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', jobId).where('client_id', '=', clientId).executeTakeFirst();
}

export async function getJob(db: Db, clientId: string, jobId: string): Promise<JobRow> {
  const job = await findJob(db, clientId, jobId);
  if (!job) throw notFound('job');
  return job;
}

export async function listJobs(db: Db, clientId: string, q: { cursor?: string | undefined; limit: number; status?: JobStatus | undefined }) {
  let query = db.selectFrom('jobs').selectAll().where('client_id', '=', clientId).orderBy('created_at').orderBy('id').limit(q.limit + 1);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.cursor) {
    const [at, id] = decodeCursor(q.cursor, ['timestamp', 'uuid']);
    query = query.where((eb) => eb.or([eb('created_at', '>', new Date(at)), eb.and([eb('created_at', '=', new Date(at)), eb('id', '>', id)])]));
  }
  return pageResult(await query.execute(), q.limit, (r) => [r.created_at, r.id]);
}

function invalidTransition(action: string, current: JobStatus) {
  return conflict('invalid_transition', `cannot ${action} a job that is ${current}`, [{ path: 'status', message: `current status: ${current}`, current_status: current }]);
}

/** Locks the client's job row for the rest of the transaction (404 when it is not theirs). */
async function lockJob(trx: Transaction<Database>, clientId: string, jobId: string): Promise<JobRow> {
  const job = await trx.selectFrom('jobs').selectAll().where('id', '=', jobId).where('client_id', '=', clientId).forUpdate().executeTakeFirst();
  if (!job) throw notFound('job');
  return job;
}

export async function updateJob(db: Db, clientId: string, jobId: string, body: UpdateJobBody): Promise<JobRow> {
  return db.transaction().execute(async (trx) => {
    const job = await lockJob(trx, clientId, jobId);
    if (job.status !== 'draft' && job.status !== 'paused') {
      throw conflict('invalid_transition', `a job can be changed while draft or paused; this job is ${job.status}`, [
        { path: 'status', message: `current status: ${job.status}`, current_status: job.status },
      ]);
    }
    if (job.status === 'paused') {
      const locked = draftOnlyJobFields.filter((f) => f in body);
      if (locked.length) {
        throw conflict(
          'field_locked',
          `${locked.join(', ')} can only change while the job is a draft: work was already done under the current values`,
          locked.map((f) => ({ path: `body.${f}`, message: 'draft only' })),
        );
      }
    }
    const { label_config, label_config_format, task_type, vendor_share_caps, qa_policy, pay_policy, ...plain } = body;
    const json: Pick<Updateable<JobsTable>, 'label_config' | 'label_config_xml' | 'task_type' | 'vendor_share_caps' | 'qa_policy' | 'pay_policy'> = {};
    if (task_type !== undefined || label_config !== undefined || label_config_format !== undefined) {
      if (label_config === undefined) {
        throw invalidConfig('give label_config with task_type or label_config_format', [{ path: '', message: 'required with task_type or label_config_format' }]);
      }
      const resolved = resolveLabelConfig({ task_type, label_config, label_config_format });
      json.label_config = JSON.stringify(resolved.config);
      json.label_config_xml = resolved.xml;
      json.task_type = resolved.taskType;
    }
    const allowlist = body.vendor_allowlist !== undefined ? body.vendor_allowlist : job.vendor_allowlist;
    checkShareCaps(allowlist, vendor_share_caps ?? job.vendor_share_caps);
    if (vendor_share_caps !== undefined) json.vendor_share_caps = JSON.stringify(vendor_share_caps);
    if (qa_policy !== undefined) json.qa_policy = JSON.stringify(qa_policy);
    if (pay_policy !== undefined) json.pay_policy = JSON.stringify(pay_policy);
    const changes = { ...plain, ...json, updated_at: sql<Date>`now()` };
    const updated = await trx.updateTable('jobs').set(changes).where('id', '=', job.id).returningAll().executeTakeFirstOrThrow();
    if (qa_policy !== undefined || plain.overlap !== undefined) await resyncTaskSlots(trx, updated);
    return updated;
  });
}

/**
 * The open tasks' required annotations follow a change of the job's overlap or prediction policy
 * (see TaskSlots: a task whose prediction qualifies under `verify` needs one annotation, any other the
 * overlap). A draft has no work yet, so its tasks take the new count either way. A paused job has work
 * under the old count, so its tasks only rise: those opened with one slot that no longer qualify get
 * the overlap back; those that now qualify keep theirs (QA still decides them on the first agreeing
 * answer) — lowering would strand answers already claimed, and would undo overlap QA asked for.
 */
async function resyncTaskSlots(trx: Transaction<Database>, job: JobRow): Promise<void> {
  const slots = taskSlotsOf(job);
  // Compared as float32, as predictionQualifies does: Math.fround's value prints and parses exactly as a real.
  const threshold = slots.verifyThreshold === null ? null : Math.fround(slots.verifyThreshold);
  const target = sql<number>`CASE WHEN ${threshold}::real IS NOT NULL AND prediction IS NOT NULL AND prediction_confidence >= ${threshold}::real THEN 1 ELSE ${slots.overlap}::smallint END`;
  await sql`
    UPDATE tasks SET required_annotations = ${target}
    WHERE job_id = ${job.id} AND status = 'open' AND gold IS NULL
      AND ${job.status === 'draft' ? sql`required_annotations <> ${target}` : sql`required_annotations < ${target}`}`.execute(trx);
}

/**
 * Moves a job along its lifecycle. The row lock serialises it with imports (which hold a share lock)
 * and with completion, so "activate needs a task" and "cancel closes the open tasks" see a stable job.
 */
export async function transitionJob(db: Db, clientId: string, jobId: string, action: JobAction): Promise<JobRow> {
  const rule = jobTransitions[action];
  return db.transaction().execute(async (trx) => {
    const job = await lockJob(trx, clientId, jobId);
    if (!rule.from.includes(job.status)) throw invalidTransition(action, job.status);
    if (action === 'activate') {
      // An active job without items would sit in every claim's candidate list doing nothing, and
      // would never complete (completion is triggered by a task decision).
      const open = await trx.selectFrom('tasks').select('id').where('job_id', '=', job.id).where('status', '=', 'open').limit(1).executeTakeFirst();
      if (!open) throw conflict('job_has_no_tasks', 'import at least one task before activating the job', [{ path: 'tasks', message: 'no open tasks' }]);
    }
    const stamp = sql<Date>`now()`;
    const updated = await trx
      .updateTable('jobs')
      .set({
        status: rule.to,
        updated_at: stamp,
        ...(action === 'activate' ? { activated_at: stamp } : {}),
        ...(action === 'cancel' ? { cancelled_at: stamp } : {}),
      })
      .where('id', '=', job.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (action === 'activate') await publish(trx, 'job.activated', { job_id: job.id, client_id: clientId });
    if (action === 'resume') {
      // The last decisions may have arrived while the job was paused (completion skips paused jobs).
      if (await completeLockedJobIfDone(trx, job.id, clientId)) {
        return trx.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      }
    }
    if (action === 'cancel') {
      await trx.updateTable('tasks').set({ status: 'cancelled' }).where('job_id', '=', job.id).where('status', '=', 'open').execute();
      await publish(trx, 'job.cancelled', { job_id: job.id, client_id: clientId });
    }
    return updated;
  });
}

/**
 * Completes an active job whose tasks are all decided, once: the status check under the row lock
 * makes a redelivered or concurrent task.decided a no-op. Returns whether this call completed it.
 */
export async function completeJobIfDone(db: Db, jobId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const job = await trx.selectFrom('jobs').select(['id', 'client_id', 'status']).where('id', '=', jobId).forUpdate().executeTakeFirst();
    if (!job || job.status !== 'active') return false;
    return completeLockedJobIfDone(trx, job.id, job.client_id);
  });
}

/** The caller holds the job's row lock and has seen it active. */
async function completeLockedJobIfDone(trx: Transaction<Database>, jobId: string, clientId: string): Promise<boolean> {
  // Gold items stay open (every eligible worker may answer them; QA never decides them), so they do not hold the job open.
  const open = await trx.selectFrom('tasks').select('id').where('job_id', '=', jobId).where('status', '=', 'open').where('gold', 'is', null).limit(1).executeTakeFirst();
  if (open) return false;
  await trx
    .updateTable('jobs')
    .set({ status: 'completed', completed_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('id', '=', jobId)
    .execute();
  await publish(trx, 'job.completed', { job_id: jobId, client_id: clientId });
  return true;
}

/**
 * QA decided a task (`task.decided`): the task is closed with QA's result (from its decision row,
 * qa_task_decisions, which qa-sampling writes and everyone may read), agreement and time. Only an open
 * task moves, so a redelivery changes nothing; a cancelled task stays cancelled.
 */
export async function closeDecidedTask(db: Db, d: EventPayload<'task.decided'>): Promise<boolean> {
  const res = await sql<{ id: number }>`
    UPDATE tasks t SET status = 'decided', agreement = ${d.agreement}, decided_at = coalesce(${d.decided_at ?? null}::timestamptz, now()),
      result = (SELECT q.result FROM qa_task_decisions q WHERE q.id = ${d.decision_id ?? null}::bigint)
    WHERE t.id = ${d.task_id} AND t.job_id = ${d.job_id} AND t.status = 'open'
    RETURNING t.id`.execute(db);
  return res.rows.length > 0;
}

/**
 * Dynamic overlap (`task.overlap_requested`): an open task's required annotations rise to what QA asked
 * for, never fall (a redelivered or older request changes nothing). The slot trigger opens the slot.
 */
export async function raiseRequiredAnnotations(db: Db, r: EventPayload<'task.overlap_requested'>): Promise<boolean> {
  const res = await db
    .updateTable('tasks')
    .set({ required_annotations: r.required_annotations })
    .where('id', '=', r.task_id)
    .where('job_id', '=', r.job_id)
    .where('status', '=', 'open')
    .where('required_annotations', '<', r.required_annotations)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
