import { describe, expect } from 'vitest';
import { eventSchemas } from '@fairlabel/contracts';
import { sql } from '@fairlabel/db';
import { integrationTest } from '@fairlabel/testing';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { qaHandlers } from '../src/qa.consumer.js';
import { applyAssignmentDecision } from '../../worker-assignment/src/qa-verdicts.service.js';
import { onTaskDecided } from '../../task-dispatch/src/task-dispatch.consumer.js';
import { raiseRequiredAnnotations } from '../../task-dispatch/src/jobs.service.js';
import { decisionsOf, eventsOf, pick, submit, workersOf } from './helpers.js';

// Decisions through the consumer's handlers (the BullMQ worker calls exactly these with parsed
// payloads), against the real database; the events they publish are read back from the outbox and
// fed to the consumers of task-dispatch and worker-assignment.

const test = integrationTest();
const ctx = { jobId: 'test', attempt: 1, log: undefined as never };

describe('deciding tasks', () => {
  test('a task with its required annotations is decided by majority; each assignment accepted or rejected; events in the outbox', async ({ env, seed }) => {
    const job = await seed.activeJob(2, { overlap: 3 });
    const workers = await workersOf(seed, 3);
    const labels = ['cat', 'cat', 'dog'];
    const events = await submit(env.db, seed, job.tasks, workers, (_t, w) => pick(labels[w]!));
    const { handlers } = qaHandlers(env);
    // Two of three answers: nothing decided yet.
    await Promise.all(events.filter((e) => e.worker_id !== workers[2]!.workerId).map((e) => handlers['assignment.submitted']!(e, ctx)));
    expect((await decisionsOf(env.db, job)).tasks).toEqual([]);
    await Promise.all(events.filter((e) => e.worker_id === workers[2]!.workerId).map((e) => handlers['assignment.submitted']!(e, ctx)));

    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.task_id, t.result, t.method, t.annotations])).toEqual(job.tasks.map((t) => [t.id, pick('cat'), 'majority', 3]));
    expect(tasks[0]!.agreement).toBeCloseTo(2 / 3, 5);
    expect(assignments.map((a) => [a.worker_id, a.outcome, a.kind]).sort()).toEqual(
      job.tasks.flatMap(() => workers.map((w, i) => [w.workerId, i < 2 ? 'accepted' : 'rejected', 'annotation'])).sort(),
    );
    const taskEvents = await eventsOf(env.db, 'task.decided', job.id);
    expect(taskEvents.map((e) => e.queue).sort()).toEqual(['settlement', 'settlement', 'task-dispatch', 'task-dispatch', 'webhooks', 'webhooks']);
    const decided = (await eventsOf(env.db, 'assignment.decided', job.id)).filter((e) => e.queue === 'worker-assignment').map((e) => e.payload);
    expect(decided.map((d) => d.decision_id).sort()).toEqual(assignments.map((a) => a.id).sort());
    // The consensus statement builds these payloads in SQL: each is exactly its event's schema (nothing
    // dropped by parsing) and says what the decision rows say.
    for (const e of await eventsOf(env.db, 'assignment.decided', job.id)) expect(eventSchemas['assignment.decided'].parse(e.payload)).toEqual(e.payload);
    for (const e of taskEvents) expect(eventSchemas['task.decided'].parse(e.payload)).toEqual(e.payload);
    for (const d of decided) {
      const row = assignments.find((a) => a.id === d.decision_id)!;
      expect(d).toMatchObject({ assignment_id: row.assignment_id, task_id: row.task_id, worker_id: row.worker_id, outcome: row.outcome, kind: 'annotation', supersedes_decision_id: null });
    }
    for (const t of tasks) {
      const e = taskEvents.find((x) => x.payload.task_id === t.task_id && x.queue === 'settlement')!.payload;
      const mine = assignments.filter((a) => a.task_id === t.task_id);
      expect(e).toMatchObject({ decision_id: t.id, automated: false, accepted_assignment_ids: mine.filter((a) => a.outcome === 'accepted').map((a) => a.assignment_id) });
      expect(e.rejected_assignment_ids).toEqual(mine.filter((a) => a.outcome === 'rejected').map((a) => a.assignment_id));
      expect(e.agreement).toBeCloseTo(2 / 3, 9);
    }

    // worker-assignment applies the decisions; task-dispatch closes the tasks and completes the job.
    for (const d of decided) expect(await applyAssignmentDecision(env.db, d)).toBe(true);
    for (const d of decided) expect(await applyAssignmentDecision(env.db, d)).toBe(false);
    for (const e of taskEvents.filter((e) => e.queue === 'task-dispatch')) await onTaskDecided(env.db, e.payload);
    const rows = await env.db.selectFrom('tasks').select(['id', 'status', 'result', 'agreement']).where('job_id', '=', job.id).orderBy('id').execute();
    expect(rows.map((r) => [r.status, r.result])).toEqual(job.tasks.map(() => ['decided', pick('cat')]));
    const status = await env.db.selectFrom('assignments').select(['worker_id', 'status']).where('job_id', '=', job.id).execute();
    expect(status.filter((s) => s.status === 'accepted')).toHaveLength(4);
    expect(status.filter((s) => s.status === 'rejected').map((s) => s.worker_id)).toEqual([workers[2]!.workerId, workers[2]!.workerId]);
    expect((await env.db.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()).status).toBe('completed');
    // The rejected slots of decided tasks stay closed.
    const slots = await env.db.selectFrom('task_slots').select('open_slots').where('job_id', '=', job.id).execute();
    expect(slots.map((s) => s.open_slots)).toEqual([0, 0]);
  });

  test('redelivered events decide nothing twice, alone, in batches or concurrently', async ({ env, seed }) => {
    const job = await seed.activeJob(20, { overlap: 3 });
    const workers = await workersOf(seed, 3);
    const events = await submit(env.db, seed, job.tasks, workers, (t, w) => pick(w === 2 && t.id % 2 === 0 ? 'dog' : 'cat'));
    // Every event three times: concurrently one by one, and in overlapping batches on parallel transactions.
    await Promise.all([
      ...events.map((e) => decideSubmissions(env.db, [e], new Date())),
      decideSubmissions(env.db, events.slice(0, 30), new Date()),
      decideSubmissions(env.db, events.slice(25), new Date()),
    ].map((p) => p.catch((err: Error) => err)));
    // A deadlock between two batches rolls one back whole; the consumer retries it (BullMQ): so do we.
    await decideSubmissions(env.db, events, new Date());
    await decideSubmissions(env.db, [...events].reverse(), new Date());
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks).toHaveLength(20);
    expect(assignments).toHaveLength(60);
    expect(new Set(assignments.map((a) => a.assignment_id)).size).toBe(60);
    expect(await eventsOf(env.db, 'task.decided', job.id)).toHaveLength(20 * 3);
    expect(await eventsOf(env.db, 'assignment.decided', job.id)).toHaveLength(60 * 2);
    const subs = await env.db.selectFrom('qa_submissions').select(sql<number>`count(*)::int`.as('n')).where('job_id', '=', job.id).executeTakeFirstOrThrow();
    expect(subs.n).toBe(60);
  });

  test('a consumer killed half-way commits nothing, and a rerun of the same events decides each task once', async ({ env, seed }) => {
    const job = await seed.activeJob(3, { overlap: 3 });
    const workers = await workersOf(seed, 3);
    const events = await submit(env.db, seed, job.tasks, workers, () => pick('cat'));
    // Hold the last task's QA row so the consumer blocks inside its transaction, after recording the
    // submissions, then kill its connection (as a SIGKILL of the process would end it).
    await decideSubmissions(env.db, events.filter((e) => e.worker_id === workers[0]!.workerId), new Date());
    const holder = await env.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM qa_tasks WHERE task_id = $1 FOR UPDATE', [job.tasks[2]!.id]);
      const rest = events.filter((e) => e.worker_id !== workers[0]!.workerId);
      const killed = decideSubmissions(env.db, rest, new Date()).then(
        () => 'finished',
        () => 'killed',
      );
      await expect
        .poll(async () => (await env.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%qa_tasks%' AND datname = current_database()`)).rows[0].n)
        .toBe(1);
      await env.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%qa_tasks%' AND datname = current_database()`);
      expect(await killed).toBe('killed');
      await holder.query('ROLLBACK');
      expect((await decisionsOf(env.db, job)).tasks).toEqual([]);
      expect(await env.db.selectFrom('qa_submissions').select('assignment_id').where('job_id', '=', job.id).execute()).toHaveLength(3);
      // The same events again (BullMQ redelivers the stalled jobs): each task decided once.
      await decideSubmissions(env.db, events, new Date());
      await decideSubmissions(env.db, rest, new Date());
    } finally {
      holder.release();
    }
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => t.task_id)).toEqual(job.tasks.map((t) => t.id));
    expect(assignments.map((a) => a.outcome)).toEqual(Array(9).fill('accepted'));
    expect(await eventsOf(env.db, 'task.decided', job.id)).toHaveLength(3 * 3);
  });

  test('dynamic overlap: below the floor one more annotation at a time, and no further than the maximum', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 3, qa_policy: JSON.stringify({ consensus_method: 'majority', min_agreement: 0.9, max_overlap: 5 }) });
    const workers = await workersOf(seed, 5);
    const task = job.tasks[0]!;
    const answers = ['cat', 'dog', 'cat', 'dog', 'cat'];
    const all = await submit(env.db, seed, job.tasks, workers, (_t, w) => pick(answers[w]!));
    const overlap = async () => (await eventsOf(env.db, 'task.overlap_requested', job.id)).map((e) => e.payload.required_annotations);
    await decideSubmissions(env.db, all.slice(0, 3), new Date());
    expect(await overlap()).toEqual([4]);
    expect((await decisionsOf(env.db, job)).tasks).toEqual([]);
    // task-dispatch raises the task's required annotations (once), which opens a slot.
    const [req] = (await eventsOf(env.db, 'task.overlap_requested', job.id)).map((e) => e.payload);
    expect(await raiseRequiredAnnotations(env.db, req!)).toBe(true);
    expect(await raiseRequiredAnnotations(env.db, req!)).toBe(false);
    expect((await env.db.selectFrom('tasks').select('required_annotations').where('id', '=', task.id).executeTakeFirstOrThrow()).required_annotations).toBe(4);
    // The same three again: nothing new. The fourth (2:2): one more.
    await decideSubmissions(env.db, all.slice(0, 3), new Date());
    await decideSubmissions(env.db, all.slice(3, 4), new Date());
    expect(await overlap()).toEqual([4, 5]);
    // The fifth: 3 of 5 is still below 0.9, but 5 is the maximum: decided.
    await decideSubmissions(env.db, all.slice(4), new Date());
    expect(await overlap()).toEqual([4, 5]);
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => [t.result, t.annotations, t.extra_annotations])).toEqual([[pick('cat'), 5, 2]]);
    expect(assignments.map((a) => a.outcome)).toEqual(['accepted', 'rejected', 'accepted', 'rejected', 'accepted']);
  });
});
