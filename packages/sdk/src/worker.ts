import { unwrap, type Fairlabel, type Schemas } from './client.js';
import { FairlabelError } from './errors.js';

export type Assignment = Schemas['Assignment'];
export type Lease = Schemas['Lease'];
export type Submission = Schemas['Submission'];

export interface WorkContext {
  /** Aborted when the lease is lost (expired, task closed) or the loop is stopped: stop working, the answer would be refused. */
  signal: AbortSignal;
  /** Extends the lease now (the loop also does it on its own schedule); throws the FairlabelError when it is lost. */
  heartbeat(): Promise<Lease>;
}

export type WorkerEvent =
  | { type: 'claimed'; assignment: Assignment }
  | { type: 'idle'; retryAfterSeconds: number | null }
  | { type: 'heartbeat'; lease: Lease }
  | { type: 'submitted'; submission: Submission }
  /** The lease ended before the answer went in: expired (409 lease_expired), task decided or job closed (409 task_closed), gone (404). */
  | { type: 'lease_lost'; assignment: Assignment; error: FairlabelError }
  /** A 429/503 or a dropped connection on a claim or heartbeat: the loop waits and goes on. */
  | { type: 'retrying'; error: FairlabelError; afterMs: number };

export interface WorkerLoopOptions {
  /** Does one task: returns the answer, keyed by the job's control names (see the assignment's `label_config`). */
  work: (assignment: Assignment, context: WorkContext) => unknown;
  /** Seconds each claim waits for work when none is eligible (the claim's long poll, 0–30; default 20). */
  wait?: number;
  /** How often to extend the lease; default a third of the lease the claim granted (at least 1 s). */
  heartbeatEveryMs?: number;
  /** Return when a claim finds nothing (after its wait) instead of claiming again. */
  stopWhenIdle?: boolean;
  /** Return after this many tasks were worked on (submitted or lost). */
  maxTasks?: number;
  /** Stop: no further claim; a task in progress is aborted and its lease released so another worker gets it at once. */
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
}

export interface WorkerLoopResult {
  claimed: number;
  submitted: number;
  /** Leases that ended before their answer was accepted. */
  lost: number;
  /** Claims that found nothing eligible. */
  idle: number;
}

/** Codes that mean the lease is gone for good: the task's answer can no longer go in. */
const leaseGone = new Set(['lease_expired', 'task_closed', 'not_found', 'lease_not_active']);
function isLeaseGone(error: unknown): error is FairlabelError {
  return error instanceof FairlabelError && (leaseGone.has(error.code) || error.status === 404);
}
function isTransient(error: unknown): error is FairlabelError {
  return error instanceof FairlabelError && (error.status === 0 || error.status === 429 || error.status === 503);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The worker loop: claim (long-polling `POST /v1/assignments/next?wait=`), work while heartbeating the
 * lease, submit; again. A 204 (nothing eligible) claims again after the wait (or returns with
 * `stopWhenIdle`); 429/503 and dropped connections are waited out (Retry-After); a lease that is lost
 * mid-task aborts the work's signal and the loop goes on with the next task. Any other error — from
 * `work`, or a refusal such as 403 `worker_suspended` or 422 on the answer — releases the lease and is
 * thrown. Use a worker key.
 */
export async function runWorker(fl: Fairlabel, options: WorkerLoopOptions): Promise<WorkerLoopResult> {
  const result: WorkerLoopResult = { claimed: 0, submitted: 0, lost: 0, idle: 0 };
  const wait = options.wait ?? 20;
  const emit = (event: WorkerEvent) => options.onEvent?.(event);
  const stop = options.signal;

  while (!stop?.aborted && (options.maxTasks === undefined || result.submitted + result.lost < options.maxTasks)) {
    let assignment: Assignment | undefined;
    let retryAfter: number | null = null;
    try {
      const { data, response } = await fl.api.POST('/v1/assignments/next', { params: { query: { wait } }, ...(stop ? { signal: stop } : {}) });
      assignment = data;
      const header = Number(response.headers.get('retry-after'));
      retryAfter = response.headers.has('retry-after') && Number.isFinite(header) ? header : null;
    } catch (error) {
      if (stop?.aborted) break;
      if (!isTransient(error)) throw error;
      const afterMs = (error.retryAfter ?? 1) * 1000;
      emit({ type: 'retrying', error, afterMs });
      await sleep(afterMs, stop);
      continue;
    }
    if (!assignment) {
      result.idle++;
      emit({ type: 'idle', retryAfterSeconds: retryAfter });
      if (options.stopWhenIdle) break;
      // A long poll has waited already; an immediate answer (wait=0) says when to ask again.
      if (wait === 0) await sleep((retryAfter ?? 1) * 1000, stop);
      continue;
    }
    result.claimed++;
    emit({ type: 'claimed', assignment });
    const outcome = await workOn(fl, assignment, options, emit);
    if (outcome === 'submitted') result.submitted++;
    else if (outcome === 'lost') result.lost++;
  }
  return result;
}

async function workOn(fl: Fairlabel, assignment: Assignment, options: WorkerLoopOptions, emit: (event: WorkerEvent) => void): Promise<'submitted' | 'lost' | 'stopped'> {
  const id = String(assignment.id);
  const lease = new AbortController();
  let lostWith: FairlabelError | undefined;
  const lose = (error: FairlabelError) => {
    if (lostWith) return;
    lostWith = error;
    emit({ type: 'lease_lost', assignment, error });
    lease.abort(error);
  };
  const onStop = () => lease.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onStop, { once: true });

  let expiresAt = Date.parse(assignment.lease_expires_at);
  const heartbeat = async (): Promise<Lease> => {
    try {
      const data = await unwrap(fl.api.POST('/v1/assignments/{id}/heartbeat', { params: { path: { id } } }));
      expiresAt = Date.parse(data.lease_expires_at);
      emit({ type: 'heartbeat', lease: data });
      return data;
    } catch (error) {
      if (isLeaseGone(error)) lose(error);
      throw error;
    }
  };
  const every = options.heartbeatEveryMs ?? Math.max(1000, (Date.parse(assignment.lease_expires_at) - Date.parse(assignment.leased_at)) / 3);
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      heartbeat().then(schedule, () => {
        if (lostWith) return;
        // A transient failure: try again on schedule while the lease may still be alive.
        if (Date.now() < expiresAt) schedule();
      });
    }, every);
  };
  schedule();

  const started = performance.now();
  try {
    let answer: unknown;
    try {
      answer = await options.work(assignment, { signal: lease.signal, heartbeat });
    } catch (error) {
      if (lostWith) return 'lost';
      if (options.signal?.aborted) {
        await release(fl, id, 'the worker loop was stopped');
        return 'stopped';
      }
      throw error;
    }
    if (lostWith) return 'lost';
    if (options.signal?.aborted) {
      await release(fl, id, 'the worker loop was stopped');
      return 'stopped';
    }
    clearTimeout(timer);
    try {
      const data = await unwrap(
        fl.api.POST('/v1/assignments/{id}/submit', {
          params: { path: { id } },
          body: { answer, time_spent_ms: Math.min(86_400_000, Math.round(performance.now() - started)) },
        }),
      );
      emit({ type: 'submitted', submission: data });
      return 'submitted';
    } catch (error) {
      if (isLeaseGone(error)) {
        lose(error);
        return 'lost';
      }
      throw error;
    }
  } catch (error) {
    await release(fl, id, `the worker loop failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500));
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onStop);
  }
}

/** Gives a lease back so the task returns to the pool now rather than at expiry (best effort). */
async function release(fl: Fairlabel, id: string, note: string): Promise<void> {
  await fl.api.POST('/v1/assignments/{id}/release', { params: { path: { id } }, body: { reason: 'other', note } }).catch(() => undefined);
}
