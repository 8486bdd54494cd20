import { expect } from 'vitest';
import { integrationTest, type TestEnv } from '@fairlabel/testing';
import type { AppInstance } from '@fairlabel/http';
import { workerAssignmentRoutes } from '../src/index.js';

/** The fixture of this service's HTTP tests: the worker-assignment routes on the shared HTTP stack. */
export const test = integrationTest({ app: [workerAssignmentRoutes] });

type Who = { auth: { authorization: string } };

export function claim(app: AppInstance, who: Who, query = '') {
  return app.inject({ method: 'POST', url: `/v1/assignments/next${query}`, headers: who.auth });
}

export function submit(app: AppInstance, who: Who, id: number, answer: unknown = { label: { choices: ['cat'] } }, timeSpentMs = 1000) {
  return app.inject({ method: 'POST', url: `/v1/assignments/${id}/submit`, headers: who.auth, payload: { answer, time_spent_ms: timeSpentMs } });
}

export function lease(app: AppInstance, who: Who, id: number, action: 'heartbeat' | 'release', payload?: Record<string, unknown>) {
  const url = `/v1/assignments/${id}/${action}`;
  return payload === undefined ? app.inject({ method: 'POST', url, headers: who.auth }) : app.inject({ method: 'POST', url, headers: who.auth, payload });
}

interface ClaimedJson {
  id: number;
  task_id: number;
  job_id: string;
  worker_id: string;
  [field: string]: unknown;
}

/** Claims and expects exactly `task` (of its job) to be leased to this worker. */
export async function expectClaim(app: AppInstance, who: Who & { workerId: string }, task: { id: number; job_id: string }): Promise<ClaimedJson> {
  const res = await claim(app, who);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as ClaimedJson;
  expect({ task_id: body.task_id, job_id: body.job_id, worker_id: body.worker_id }).toEqual({ task_id: task.id, job_id: task.job_id, worker_id: who.workerId });
  return body;
}

/**
 * What a claim may write: the worker's assignments and, for the given jobs, their assignments, open
 * slots and vendor usage counters.
 */
async function claimState(env: TestEnv, workerId: string, jobIds: string[]) {
  const jobs = jobIds.length ? jobIds : ['00000000-0000-0000-0000-000000000000'];
  const [mine, ofJobs, slots, usage] = await Promise.all([
    env.db.selectFrom('assignments').select(['id', 'status']).where('worker_id', '=', workerId).orderBy('id').execute(),
    env.db.selectFrom('assignments').select(['id', 'worker_id', 'status']).where('job_id', 'in', jobs).orderBy('id').execute(),
    env.db.selectFrom('task_slots').select(['task_id', 'open_slots']).where('job_id', 'in', jobs).orderBy('task_id').execute(),
    env.db.selectFrom('job_vendor_usage').select(['job_id', 'vendor_id', 'held']).where('job_id', 'in', jobs).orderBy('job_id').orderBy('vendor_id').execute(),
  ]);
  return { mine, ofJobs, slots, usage };
}

/**
 * Claims and expects nothing: a 204 with Retry-After (or the refusal `status`/`code` given), and not a
 * row written — no assignment for the worker or in `jobs`, the jobs' open slots and vendor usage as before.
 */
export async function expectNoClaim(
  app: AppInstance,
  env: TestEnv,
  who: Who & { workerId: string },
  jobs: { id: string }[],
  refusal?: { status: number; code: string },
) {
  const before = await claimState(env, who.workerId, jobs.map((j) => j.id));
  const res = await claim(app, who);
  const answer = res.statusCode === 204 ? { status: 204, retryAfter: Number(res.headers['retry-after']) > 0 } : { status: res.statusCode, code: res.json().error?.code };
  expect(answer, res.body).toEqual(refusal ?? { status: 204, retryAfter: true });
  expect(await claimState(env, who.workerId, jobs.map((j) => j.id))).toEqual(before);
  return res;
}
