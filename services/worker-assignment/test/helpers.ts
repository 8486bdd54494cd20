import { newClient, newJob, newTasks, newVendor, newWorker, type Actor, type TestEnv, type WorkerActor } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';

/** Only the jobs a test makes are claimable: every other job in the file's database is paused. */
export async function pauseAllJobs(env: TestEnv): Promise<void> {
  await env.db.updateTable('jobs').set({ status: 'paused' }).where('status', '=', 'active').execute();
}

export async function activeJob(env: TestEnv, tasks: number, opts: Parameters<typeof newJob>[2] = {}) {
  const client = await newClient(env.db);
  const job = await newJob(env.db, client.organizationId, { status: 'active', ...opts });
  const rows = await newTasks(env.db, job.id, tasks);
  return { client, job, tasks: rows };
}

export async function vendorWithWorker(env: TestEnv, opts: Parameters<typeof newWorker>[2] = {}): Promise<{ vendor: Actor; worker: WorkerActor }> {
  const vendor = await newVendor(env.db);
  const worker = await newWorker(env.db, vendor.organizationId, opts);
  return { vendor, worker };
}

export function claim(app: AppInstance, who: { auth: { authorization: string } }, query = '') {
  return app.inject({ method: 'POST', url: `/v1/assignments/next${query}`, headers: who.auth });
}

export function submit(app: AppInstance, who: { auth: { authorization: string } }, id: number, answer: unknown = { label: { choices: ['cat'] } }, timeSpentMs = 1000) {
  return app.inject({ method: 'POST', url: `/v1/assignments/${id}/submit`, headers: who.auth, payload: { answer, time_spent_ms: timeSpentMs } });
}
