import { describe, expect } from 'vitest';
import { FairlabelError, unwrap, type JobProgress, type WorkerEvent } from '../src/index.js';
import { pipelineTest, test } from './fixtures.js';

const answer = { label: { choices: ['cat'] } };

describe('worker loop', () => {
  test('claims, heartbeats and submits every task of a small job, then stops when a claim finds nothing', async ({ sdk, seed, vendor, worker, client }) => {
    const job = await seed.activeJob(3, { owner: client });
    const events: WorkerEvent[] = [];
    const worked: number[] = [];
    const result = await sdk(worker).work({
      wait: 0,
      stopWhenIdle: true,
      onEvent: (e) => events.push(e),
      work: async (assignment, { heartbeat }) => {
        worked.push(assignment.task_id);
        expect(assignment).toMatchObject({ job_id: job.id, status: 'leased', payload: expect.any(Object) });
        const lease = await heartbeat();
        expect(lease).toMatchObject({ id: assignment.id, status: 'leased' });
        return answer;
      },
    });

    expect(result).toEqual({ claimed: 3, submitted: 3, lost: 0, idle: 1 });
    expect(worked.sort()).toEqual(job.tasks.map((t) => t.id).sort());
    expect(events.map((e) => e.type)).toEqual(['claimed', 'heartbeat', 'submitted', 'claimed', 'heartbeat', 'submitted', 'claimed', 'heartbeat', 'submitted', 'idle']);
    const progress = await unwrap(sdk(client).api.GET('/v1/jobs/{id}/progress', { params: { path: { id: job.id } } }));
    expect(progress.assignments).toMatchObject({ leased: 0, submitted: 3 });
    expect(vendor.organizationId).toBe(worker.vendorId);
  });

  pipelineTest('a loop completes a small job: QA decides each submitted task and the job ends completed', async ({ sdk, seed, worker, client, pipeline }) => {
    expect(pipeline).toBeGreaterThan(0);
    const job = await seed.activeJob(3, { owner: client, overlap: 1 });
    const result = await sdk(worker).work({ wait: 0, stopWhenIdle: true, work: () => answer });
    expect(result).toEqual({ claimed: 3, submitted: 3, lost: 0, idle: 1 });
    let final: JobProgress | undefined;
    for await (const p of sdk(client).watchProgress(job.id, { intervalMs: 50 })) final = p;
    expect(final).toMatchObject({ status: 'completed', tasks: { total: 3, decided: 3, open: 0 }, assignments: { accepted: 3, submitted: 0, leased: 0 } });
  });

  test('heartbeats on its own schedule while the work runs', async ({ sdk, seed, worker, client }) => {
    await seed.activeJob(1, { owner: client });
    let beat!: () => void;
    const firstBeat = new Promise<void>((resolve) => (beat = resolve));
    const result = await sdk(worker).work({
      wait: 0,
      maxTasks: 1,
      heartbeatEveryMs: 20,
      onEvent: (e) => e.type === 'heartbeat' && beat(),
      // The work lasts until the loop's timer has extended the lease once.
      work: async () => {
        await firstBeat;
        return answer;
      },
    });
    expect(result).toEqual({ claimed: 1, submitted: 1, lost: 0, idle: 0 });
  });

  test('a claim that finds nothing (204) is asked again, and the next claim gets the work that appeared', async ({ sdk, seed, worker, client }) => {
    const job = await seed.job(client, { status: 'paused' });
    await seed.tasks(job.id, 1);
    const events: WorkerEvent[] = [];
    let activated: Promise<unknown> | undefined;
    const result = await sdk(worker).work({
      wait: 1,
      maxTasks: 1,
      onEvent: (e) => {
        events.push(e);
        // After the first empty long poll, the client resumes its job.
        if (e.type === 'idle' && !activated) activated = unwrap(sdk(client).api.POST('/v1/jobs/{id}/resume', { params: { path: { id: job.id } } }));
      },
      work: async () => {
        await activated;
        return answer;
      },
    });
    expect(result).toMatchObject({ claimed: 1, submitted: 1, lost: 0 });
    expect(result.idle).toBeGreaterThanOrEqual(1);
    expect(events.map((e) => e.type).filter((t) => t !== 'idle')).toEqual(['claimed', 'submitted']);
  });

  test('a lease that expires mid-task aborts the work and the loop goes on', async ({ sdk, seed, env, worker, client }) => {
    const job = await seed.activeJob(1, { owner: client, lease_seconds: 60 });
    const events: WorkerEvent[] = [];
    let aborted: unknown;
    const result = await sdk(worker).work({
      wait: 0,
      stopWhenIdle: true,
      onEvent: (e) => events.push(e),
      work: async (_assignment, { heartbeat, signal }) => {
        // The lease runs out while the worker is still at it.
        env.clock.advance(61_000);
        await heartbeat().catch(() => undefined);
        aborted = signal.aborted && signal.reason;
        return answer;
      },
    });
    expect(result).toEqual({ claimed: 1, submitted: 0, lost: 1, idle: 1 });
    expect(aborted).toBeInstanceOf(FairlabelError);
    expect(aborted).toMatchObject({ status: 409, code: 'lease_expired' });
    const lost = events.find((e) => e.type === 'lease_lost');
    expect(lost).toMatchObject({ type: 'lease_lost', assignment: { job_id: job.id }, error: { code: 'lease_expired' } });
  });

  test('an answer the job refuses releases the lease and throws the 422', async ({ sdk, seed, worker, client }) => {
    const job = await seed.activeJob(1, { owner: client });
    const error = await sdk(worker)
      .work({ wait: 0, stopWhenIdle: true, work: () => ({ label: { choices: ['not a choice'] } }) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FairlabelError);
    expect(error).toMatchObject({ status: 422 });
    const progress = await unwrap(sdk(client).api.GET('/v1/jobs/{id}/progress', { params: { path: { id: job.id } } }));
    expect(progress.assignments).toMatchObject({ leased: 0, submitted: 0 });
  });

  test('a client key cannot run the loop: the 403 is thrown', async ({ sdk, client }) => {
    const error = await sdk(client)
      .work({ wait: 0, stopWhenIdle: true, work: () => answer })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 403, code: 'forbidden' });
  });
});
