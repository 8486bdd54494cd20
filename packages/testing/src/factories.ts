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

export const labelConfigs: Record<TaskType, Record<string, unknown>> = {
  classification: { labels: ['cat', 'dog', 'other'] },
  multi_label: { labels: ['red', 'green', 'blue'], min_picks: 1, max_picks: 2 },
  bounding_boxes: { labels: ['car', 'person'], min_width: 1, min_height: 1 },
  text_spans: { entity_types: ['PER', 'ORG', 'LOC'] },
  transcription: { max_length: 5000 },
  free_text: { max_length: 1000 },
};

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
        answer: JSON.stringify(opts.answer?.(t.id) ?? { label: 'cat' }),
        time_spent_ms: 1234,
        decided_at: opts.status === 'submitted' ? null : now,
      })),
    )
    .returningAll()
    .execute();
}
