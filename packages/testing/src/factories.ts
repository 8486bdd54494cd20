import { randomBytes } from 'node:crypto';
import type { ApiKeyRole, Db, JobsTable, OrganizationKind, TaskType, WorkersTable } from '@fairlabel/db';
import type { Insertable } from 'kysely';
import { generateApiKey } from '@fairlabel/http';

/**
 * Seed data for integration tests, written straight to the test database. Each factory returns the
 * row plus, where a caller acts through the API, a usable key (`auth` is the Authorization header).
 */

const uniq = () => randomBytes(3).toString('hex');

export interface Actor {
  organizationId: string;
  keyId: string;
  key: string;
  auth: { authorization: string };
}

export async function newOrganization(db: Db, kind: OrganizationKind, name = `${kind}-${uniq()}`) {
  return db.insertInto('organizations').values({ name, kind }).returningAll().executeTakeFirstOrThrow();
}

export async function newApiKey(db: Db, organizationId: string, role: ApiKeyRole, workerId: string | null = null): Promise<Actor> {
  const { key, prefix, hash } = generateApiKey();
  const row = await db
    .insertInto('api_keys')
    .values({ organization_id: organizationId, role, worker_id: workerId, prefix, key_hash: hash, name: `test ${role}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { organizationId, keyId: row.id, key, auth: { authorization: `Bearer ${key}` } };
}

export async function newClient(db: Db, name?: string): Promise<Actor> {
  const org = await newOrganization(db, 'client', name);
  return newApiKey(db, org.id, 'client');
}

export async function newVendor(db: Db, name?: string): Promise<Actor> {
  const org = await newOrganization(db, 'vendor', name);
  return newApiKey(db, org.id, 'vendor');
}

/** The platform organization's key with the given role (admin, ops, finance). */
export async function newPlatformKey(db: Db, role: ApiKeyRole = 'admin'): Promise<Actor> {
  const existing = await db.selectFrom('organizations').select('id').where('kind', '=', 'platform').executeTakeFirst();
  const orgId = existing?.id ?? (await newOrganization(db, 'platform', 'platform')).id;
  return newApiKey(db, orgId, role);
}

export interface WorkerActor extends Actor {
  workerId: string;
  vendorId: string;
}

export async function newWorker(
  db: Db,
  vendorId: string,
  opts: Partial<Insertable<WorkersTable>> & { skills?: Record<string, number> } = {},
): Promise<WorkerActor> {
  const { skills, ...columns } = opts;
  const worker = await db
    .insertInto('workers')
    .values({
      vendor_id: vendorId,
      display_name: `worker-${uniq()}`,
      region_country: 'IN',
      region_province: 'KA',
      city_tier: 3,
      area: 'urban',
      ...columns,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (const [skill, level] of Object.entries(skills ?? {})) {
    await db.insertInto('worker_skills').values({ worker_id: worker.id, skill, level, source: 'vendor' }).execute();
  }
  const actor = await newApiKey(db, vendorId, 'worker', worker.id);
  return { ...actor, workerId: worker.id, vendorId };
}

/**
 * A v2 label config (packages/contracts label-config.ts) for each kind of job, as jobs store them
 * (defaults filled in). Answers are keyed by control name: `label` (`answer` for text), e.g.
 * `{label: {choices: ['cat']}}`; `sampleAnswers` has a valid one for each.
 */
export const labelConfigs: Record<TaskType, Record<string, unknown>> = {
  classification: {
    version: 2,
    objects: [{ name: 'item', type: 'text', value: '$text' }],
    controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['cat', 'dog', 'other'], multiple: false, required: true, per_region: false }],
  },
  multi_label: {
    version: 2,
    objects: [{ name: 'item', type: 'text', value: '$text' }],
    controls: [{ name: 'label', type: 'choices', to_name: 'item', choices: ['red', 'green', 'blue'], multiple: true, min: 1, max: 2, required: true, per_region: false }],
  },
  bounding_boxes: {
    version: 2,
    objects: [{ name: 'image', type: 'image', value: '$image' }],
    controls: [{ name: 'label', type: 'rectangle', to_name: 'image', labels: ['car', 'person'], multiple: false, can_rotate: true, required: false }],
  },
  text_spans: {
    version: 2,
    objects: [{ name: 'text', type: 'text', value: '$text' }],
    controls: [{ name: 'label', type: 'labels', to_name: 'text', labels: ['PER', 'ORG', 'LOC'], multiple: false, allow_overlap: false, required: false }],
  },
  transcription: {
    version: 2,
    objects: [{ name: 'item', type: 'audio', value: '$audio' }],
    controls: [{ name: 'answer', type: 'textarea', to_name: 'item', min_length: 0, max_length: 5000, max_items: 1, required: true, per_region: false }],
  },
  free_text: {
    version: 2,
    objects: [{ name: 'item', type: 'text', value: '$text' }],
    controls: [{ name: 'answer', type: 'textarea', to_name: 'item', min_length: 0, max_length: 1000, max_items: 1, required: true, per_region: false }],
  },
  custom: {
    version: 2,
    objects: [
      { name: 'image', type: 'image', value: '$image' },
      { name: 'text', type: 'text', value: '$text' },
    ],
    controls: [
      { name: 'boxes', type: 'rectangle', to_name: 'image', labels: ['car', 'person'], multiple: false, can_rotate: true, required: false },
      { name: 'quality', type: 'choices', to_name: 'image', choices: ['good', 'blurry'], multiple: false, required: true, per_region: false },
      { name: 'comment', type: 'textarea', to_name: 'text', min_length: 0, max_length: 500, required: false, per_region: false },
    ],
  },
};

/** A valid answer for each entry of labelConfigs. */
export const sampleAnswers: Record<TaskType, Record<string, unknown>> = {
  classification: { label: { choices: ['cat'] } },
  multi_label: { label: { choices: ['red', 'blue'] } },
  bounding_boxes: { label: { boxes: [{ labels: ['car'], x: 10, y: 20, width: 30, height: 40 }] } },
  text_spans: { label: { spans: [{ start: 0, end: 4, labels: ['PER'] }] } },
  transcription: { answer: { text: ['hello'] } },
  free_text: { answer: { text: ['hello'] } },
  custom: { boxes: { boxes: [{ labels: ['car'], x: 10, y: 20, width: 30, height: 40, rotation: 15 }] }, quality: { choices: ['good'] } },
};

/** A v2 classification config with these choices (control `label` on a text object `item`). */
export function choicesConfig(choices: string[], opts: { multiple?: boolean } = {}): Record<string, unknown> {
  return {
    version: 2,
    objects: [{ name: 'item', type: 'text', value: '$text' }],
    controls: [{ name: 'label', type: 'choices', to_name: 'item', choices, multiple: opts.multiple ?? false, required: true, per_region: false }],
  };
}

export async function newJob(db: Db, clientId: string, opts: Partial<Insertable<JobsTable>> = {}) {
  const taskType = (opts.task_type ?? 'classification') as TaskType;
  return db
    .insertInto('jobs')
    .values({
      client_id: clientId,
      name: `job-${uniq()}`,
      task_type: taskType,
      label_config: JSON.stringify(labelConfigs[taskType]),
      instructions: 'Pick the label that fits best.',
      pay_per_annotation: 5,
      client_price_per_item: 20,
      currency: 'USD',
      ...opts,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Inserts `count` open tasks for a job; `required_annotations` defaults to the job's overlap. */
export async function newTasks(db: Db, jobId: string, count: number, opts: { required?: number; priority?: number; payload?: (i: number) => Record<string, unknown> } = {}) {
  const job = await db.selectFrom('jobs').select('overlap').where('id', '=', jobId).executeTakeFirstOrThrow();
  const rows = Array.from({ length: count }, (_, i) => ({
    job_id: jobId,
    external_id: `item-${i}`,
    payload: JSON.stringify(opts.payload?.(i) ?? { text: `item ${i}` }),
    priority: opts.priority ?? 0,
    required_annotations: opts.required ?? job.overlap,
  }));
  const out = [];
  for (let i = 0; i < rows.length; i += 1000) {
    out.push(...(await db.insertInto('tasks').values(rows.slice(i, i + 1000)).returningAll().execute()));
  }
  return out;
}

/**
 * One answered assignment of `worker` per task (status `accepted` unless given), as a finished job
 * has them; the rows a data purge must erase the answers of.
 */
export async function newAnswers(
  db: Db,
  tasks: { id: number; job_id: string }[],
  worker: { workerId: string; vendorId: string },
  opts: { status?: 'submitted' | 'accepted' | 'rejected'; answer?: (taskId: number) => unknown } = {},
) {
  if (tasks.length === 0) return [];
  const now = new Date();
  return db
    .insertInto('assignments')
    .values(
      tasks.map((t) => ({
        task_id: t.id,
        job_id: t.job_id,
        worker_id: worker.workerId,
        vendor_id: worker.vendorId,
        status: opts.status ?? 'accepted',
        lease_expires_at: new Date(now.getTime() + 60_000),
        submitted_at: now,
        answer: JSON.stringify(opts.answer?.(t.id) ?? { label: { choices: ['cat'] } }),
        time_spent_ms: 1234,
        decided_at: opts.status === 'submitted' ? null : now,
      })),
    )
    .returningAll()
    .execute();
}
