import { describe, expect } from 'vitest';
import { sql, type Db } from '@fairlabel/db';
import { integrationTest, type WorkerActor } from '@fairlabel/testing';
import { decideSubmissions } from '../src/decisions/decide.service.js';
import { applyAssignmentDecision, applyJobSuspension, applySkillChange } from '../../worker-assignment/src/qa-verdicts.service.js';
import { decisionsOf, eventsOf, goldTasks, pick, submit, workersOf } from './helpers.js';

// Gold: mixed into the claim, scored at once, moving the worker's record per skill; suspension and
// promotion at their counts; fast answers; suspect gold.

const test = integrationTest();

const claim = async (db: Db, w: WorkerActor) =>
  (
    await sql<{ outcome: string; task_id: number | null; payload: unknown }>`
      SELECT outcome, task_id, payload FROM wa_claim(${w.workerId}::uuid, ${w.vendorId}::uuid, now(), true, '{}'::uuid[], true)`.execute(db)
  ).rows[0]!;

describe('gold in the claim', () => {
  test('at gold_ratio 1 every eligible worker gets each gold item once, before other work; gold never fills a slot and never shows as gold', async ({ env, seed }) => {
    const job = await seed.activeJob(2, { overlap: 1, qa_policy: JSON.stringify({ gold_ratio: 1 }) });
    const gold = await goldTasks(env.db, job.id, 2, () => pick('cat'));
    const workers = await workersOf(seed, 3);
    const got: number[][] = [];
    for (const w of workers) got.push([(await claim(env.db, w)).task_id!, (await claim(env.db, w)).task_id!]);
    // Each of the three workers got both gold items (overlap 1 does not limit them) ...
    expect(got).toEqual(workers.map(() => gold.map((g) => g.id)));
    const slots = await env.db.selectFrom('task_slots').select(['task_id', 'open_slots']).where('task_id', 'in', gold.map((g) => g.id)).execute();
    expect(slots.map((s) => s.open_slots)).toEqual([0, 0]);
    // ... then ordinary work, by its slots: two tasks of overlap 1 for three workers.
    const third = await Promise.all(workers.map((w) => claim(env.db, w)));
    expect(third.map((c) => c.task_id).sort()).toEqual([...job.tasks.map((t) => t.id), null].sort());
    // What the worker is shown of a gold item is what any item shows: the payload.
    const shown = await sql<Record<string, unknown>>`SELECT * FROM wa_claim(${workers[0]!.workerId}::uuid, ${workers[0]!.vendorId}::uuid, now(), true, '{}'::uuid[], true)`.execute(env.db);
    expect(Object.keys(shown.rows[0]!).some((k) => k.includes('gold'))).toBe(false);
  });

  test('at gold_ratio 0 gold items are never offered', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 1 });
    await goldTasks(env.db, job.id, 2, () => pick('cat'));
    const [w1, w2] = await workersOf(seed, 2);
    expect((await claim(env.db, w1!)).task_id).toBe(job.tasks[0]!.id);
    expect((await claim(env.db, w2!)).outcome).toBe('none');
  });
});

describe('scoring gold', () => {
  const policy = { accuracy_floor: 0.6, min_gold_for_suspension: 5, promotion_bar: 0.85, min_gold_for_promotion: 8, min_plausible_ms: 2000 };

  test('a gold answer is scored at once and decided; suspension at N failed gold and not before, with the undecided work rejected', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 3, required_skill: 'tagging', qa_policy: JSON.stringify(policy) });
    const gold = await goldTasks(env.db, job.id, 6, () => pick('cat'));
    const [bad, good] = await workersOf(seed, 2, { tagging: 2 });
    // The bad worker's pending answer on the ordinary task (two more are needed to decide it).
    const pending = await submit(env.db, seed, job.tasks, [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, pending, new Date());
    const wrong = await submit(env.db, seed, gold, [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    for (const [i, e] of wrong.slice(0, 4).entries()) {
      await decideSubmissions(env.db, [e], new Date());
      const q = await env.db.selectFrom('qa_worker_skills').selectAll().where('worker_id', '=', bad!.workerId).executeTakeFirstOrThrow();
      expect([q.gold_total, q.gold_correct, q.suspended_at]).toEqual([i + 1, 0, null]);
    }
    expect(await eventsOf(env.db, 'worker.skill_changed')).toEqual([]);
    await decideSubmissions(env.db, wrong.slice(4, 5), new Date());
    const changed = (await eventsOf(env.db, 'worker.skill_changed')).map((e) => e.payload);
    expect(changed.map((c) => [c.worker_id, c.skill, c.action, c.from_level, c.evidence.gold_total, c.evidence.gold_correct])).toEqual([[bad!.workerId, 'tagging', 'suspend', 2, 5, 0]]);
    // Redelivered: nothing again.
    await decideSubmissions(env.db, wrong.slice(0, 5), new Date());
    expect(await eventsOf(env.db, 'worker.skill_changed')).toHaveLength(1);
    // Its gold answers were decided as gold, rejected; its pending ordinary answer rejected, and the task needs another.
    const { assignments } = await decisionsOf(env.db, job);
    expect(assignments.map((a) => [a.kind, a.outcome])).toEqual([['annotation', 'rejected'], ...Array(5).fill(['gold', 'rejected'])]);
    expect(assignments[0]!.reason).toMatch(/suspended/);
    expect((await env.db.selectFrom('qa_tasks').select('submissions').where('task_id', '=', job.tasks[0]!.id).executeTakeFirstOrThrow()).submissions).toBe(0);
    // worker-assignment applies it: the skill is suspended (the claim and submit refuse it), logged as QA's.
    expect(await applySkillChange(env.db, changed[0]!)).toBe(true);
    expect(await applySkillChange(env.db, changed[0]!)).toBe(false);
    const skill = await env.db.selectFrom('worker_skills').selectAll().where('worker_id', '=', bad!.workerId).executeTakeFirstOrThrow();
    expect(skill.suspended_at).not.toBeNull();
    const log = await env.db.selectFrom('skill_level_events').select(['source', 'reason']).where('worker_id', '=', bad!.workerId).execute();
    expect(log.map((l) => l.source)).toEqual(['qa']);
    const rejected = (await eventsOf(env.db, 'assignment.decided', job.id)).filter((e) => e.queue === 'worker-assignment' && e.payload.task_id === job.tasks[0]!.id);
    expect(await applyAssignmentDecision(env.db, rejected[0]!.payload)).toBe(true);
    const slot = await env.db.selectFrom('task_slots').select('open_slots').where('task_id', '=', job.tasks[0]!.id).executeTakeFirstOrThrow();
    expect(slot.open_slots).toBe(3);
    // The good worker's correct gold answer: accepted, counted.
    const right = await submit(env.db, seed, gold.slice(0, 1), [good!], () => pick('cat'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, right, new Date());
    const g = await env.db.selectFrom('qa_gold_scores').select(['passed', 'score']).where('assignment_id', '=', right[0]!.assignment_id).executeTakeFirstOrThrow();
    expect(g).toEqual({ passed: true, score: 1 });
  });

  test('a job without a skill: its own gold under the floor suspends from THAT job (worker.job_suspended, with evidence), once, with its undecided work rejected; other skill-less jobs are untouched', async ({ env, seed }) => {
    const client = await seed.client();
    const a = await seed.activeJob(1, { owner: client, overlap: 3, qa_policy: JSON.stringify(policy) });
    const b = await seed.activeJob(1, { owner: client, overlap: 3, qa_policy: JSON.stringify(policy) });
    const goldA = await goldTasks(env.db, a.id, 6, () => pick('cat'));
    const goldB = await goldTasks(env.db, b.id, 4, () => pick('cat'));
    const [bad] = await workersOf(seed, 1);
    // Pending ordinary answers on both jobs (two more are needed to decide either).
    const pending = await submit(env.db, seed, [...a.tasks, ...b.tasks], [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, pending, new Date());
    // Four failed gold on B and four on A: eight on the shared `*` record, but neither job has N = 5 of its own.
    const wrongB = await submit(env.db, seed, goldB, [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    const wrongA = await submit(env.db, seed, goldA, [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, [...wrongB, ...wrongA.slice(0, 4)], new Date());
    const record = async (jobId: string) => env.db.selectFrom('qa_worker_jobs').select(['gold_total', 'gold_correct', 'suspended_at']).where('worker_id', '=', bad!.workerId).where('job_id', '=', jobId).executeTakeFirstOrThrow();
    expect(await record(a.id)).toEqual({ gold_total: 4, gold_correct: 0, suspended_at: null });
    expect(await record(b.id)).toEqual({ gold_total: 4, gold_correct: 0, suspended_at: null });
    expect((await env.db.selectFrom('qa_worker_skills').select('gold_total').where('worker_id', '=', bad!.workerId).where('skill', '=', '*').executeTakeFirstOrThrow()).gold_total).toBe(8);
    const suspensions = async () => (await eventsOf(env.db, 'worker.job_suspended')).filter((e) => e.queue === 'worker-assignment' && e.payload.worker_id === bad!.workerId).map((e) => e.payload);
    expect(await suspensions()).toEqual([]);

    // A's fifth and sixth failed gold, in two batches at once: either crosses the floor; one suspension.
    await Promise.all([decideSubmissions(env.db, wrongA.slice(4, 5), new Date()), decideSubmissions(env.db, wrongA.slice(5), new Date())]);
    await decideSubmissions(env.db, wrongA, new Date()); // redelivered: nothing again
    const sent = await suspensions();
    expect(sent.map((p) => [p.job_id, p.evidence.scope, p.evidence.gold_correct, p.evidence.accuracy_floor])).toEqual([[a.id, 'job', 0, 0.6]]);
    expect([5, 6]).toContain(sent[0]!.evidence.gold_total);
    expect(await eventsOf(env.db, 'worker.skill_changed')).toEqual([]);
    const actions = await env.db.selectFrom('qa_skill_actions').select(['skill', 'action', 'job_id']).where('worker_id', '=', bad!.workerId).execute();
    expect(actions).toEqual([{ skill: '*', action: 'suspend', job_id: a.id }]);
    expect((await record(a.id)).suspended_at).not.toBeNull();
    expect((await record(b.id)).suspended_at).toBeNull();
    // The pending answer on A is rejected and A's task needs another; the one on B still counts.
    const onA = (await decisionsOf(env.db, a)).assignments.filter((d) => d.kind === 'annotation');
    expect(onA.map((d) => [d.task_id, d.outcome, d.reason])).toEqual([[a.tasks[0]!.id, 'rejected', 'worker suspended from this job: undecided work rejected']]);
    expect((await decisionsOf(env.db, b)).assignments.filter((d) => d.kind === 'annotation')).toEqual([]);
    const submissions = async (taskId: number) => (await env.db.selectFrom('qa_tasks').select('submissions').where('task_id', '=', taskId).executeTakeFirstOrThrow()).submissions;
    expect([await submissions(a.tasks[0]!.id), await submissions(b.tasks[0]!.id)]).toEqual([0, 1]);

    // worker-assignment applies it (the claim and the submit refuse job A only; worker-assignment's tests show both).
    const payload = (await eventsOf(env.db, 'assignment.decided', a.id)).find((e) => e.queue === 'worker-assignment' && e.payload.task_id === a.tasks[0]!.id)!.payload;
    expect(await applyAssignmentDecision(env.db, payload)).toBe(true);
    expect(await applyJobSuspension(env.db, sent[0]!)).toBe(true);
    expect((await env.db.selectFrom('worker_job_blocks').select('job_id').where('worker_id', '=', bad!.workerId).execute()).map((r) => r.job_id)).toEqual([a.id]);
    expect((await env.db.selectFrom('task_slots').select('open_slots').where('task_id', '=', a.tasks[0]!.id).executeTakeFirstOrThrow()).open_slots).toBe(3);
  });

  test('promotion after M gold answers at the bar and not before; the count starts again after it', async ({ env, seed }) => {
    const job = await seed.activeJob(0, { overlap: 1, required_skill: 'tagging', qa_policy: JSON.stringify(policy) });
    const gold = await goldTasks(env.db, job.id, 16, () => pick('cat'));
    const [w] = await workersOf(seed, 1, { tagging: 2 });
    const answers = await submit(env.db, seed, gold, [w!], () => pick('cat'), { timeSpentMs: 5000 });
    const promotions = async () => (await eventsOf(env.db, 'worker.skill_changed')).map((e) => [e.payload.action, e.payload.from_level, e.payload.to_level, e.payload.evidence.gold_total]);
    await decideSubmissions(env.db, answers.slice(0, 7), new Date());
    expect(await promotions()).toEqual([]);
    await decideSubmissions(env.db, answers.slice(7, 8), new Date());
    expect(await promotions()).toEqual([['promote', 2, 3, 8]]);
    await decideSubmissions(env.db, answers.slice(8, 15), new Date());
    expect(await promotions()).toEqual([['promote', 2, 3, 8]]);
    await decideSubmissions(env.db, answers.slice(15), new Date());
    // worker-assignment had not applied the first promotion here: QA still promotes from the level it set.
    expect(await promotions()).toEqual([['promote', 2, 3, 8], ['promote', 3, 4, 16]]);
    for (const e of await eventsOf(env.db, 'worker.skill_changed')) expect(await applySkillChange(env.db, e.payload)).toBe(true);
    expect((await env.db.selectFrom('worker_skills').select('level').where('worker_id', '=', w!.workerId).executeTakeFirstOrThrow()).level).toBe(4);
  });

  test('concurrent batches: two promotions go 2→3→4, and two failed gold answers that each cross the floor suspend once', async ({ env, seed }) => {
    const job = await seed.activeJob(0, { overlap: 1, required_skill: 'tagging', qa_policy: JSON.stringify(policy) });
    const gold = await goldTasks(env.db, job.id, 16, () => pick('cat'));
    const [w, bad] = await workersOf(seed, 2, { tagging: 2 });
    // 16 right answers in two batches of 8 at once, each enough for a promotion on its own.
    const right = await submit(env.db, seed, gold, [w!], () => pick('cat'), { timeSpentMs: 5000 });
    await Promise.all([decideSubmissions(env.db, right.slice(0, 8), new Date()), decideSubmissions(env.db, right.slice(8), new Date())]);
    const changes = async (worker: string) => (await eventsOf(env.db, 'worker.skill_changed')).map((e) => e.payload).filter((p) => p.worker_id === worker);
    expect((await changes(w!.workerId)).map((p) => [p.action, p.from_level, p.to_level])).toEqual([['promote', 2, 3], ['promote', 3, 4]]);
    for (const p of await changes(w!.workerId)) expect(await applySkillChange(env.db, p)).toBe(true);
    expect((await env.db.selectFrom('worker_skills').select('level').where('worker_id', '=', w!.workerId).executeTakeFirstOrThrow()).level).toBe(4);
    // Four failed gold answers, then two more at once: either alone reaches N = 5 under the floor.
    const wrong = await submit(env.db, seed, gold.slice(0, 6), [bad!], () => pick('dog'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, wrong.slice(0, 4), new Date());
    await Promise.all([decideSubmissions(env.db, wrong.slice(4, 5), new Date()), decideSubmissions(env.db, wrong.slice(5), new Date())]);
    expect((await changes(bad!.workerId)).map((p) => p.action)).toEqual(['suspend']);
    const actions = await env.db.selectFrom('qa_skill_actions').select(['action', 'at_gold_total']).where('worker_id', '=', bad!.workerId).execute();
    expect(actions.map((a) => a.action)).toEqual(['suspend']);
    expect([5, 6]).toContain(actions[0]!.at_gold_total);
  });

  test('an answer faster than the minimum plausible time is flagged and counts as failed gold', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 2, required_skill: 'tagging', qa_policy: JSON.stringify(policy) });
    const gold = await goldTasks(env.db, job.id, 1, () => pick('cat'));
    const [w] = await workersOf(seed, 1, { tagging: 1 });
    const fastGold = await submit(env.db, seed, gold, [w!], () => pick('cat'), { timeSpentMs: 500 });
    const fastTask = await submit(env.db, seed, job.tasks, [w!], () => pick('cat'), { timeSpentMs: 500 });
    await decideSubmissions(env.db, [...fastGold, ...fastTask], new Date());
    const q = await env.db.selectFrom('qa_worker_skills').selectAll().where('worker_id', '=', w!.workerId).executeTakeFirstOrThrow();
    expect([q.gold_total, q.gold_correct, q.fast_answers]).toEqual([2, 0, 2]);
    const { assignments } = await decisionsOf(env.db, job);
    expect(assignments.map((a) => [a.kind, a.outcome, a.reason])).toEqual([['gold', 'rejected', 'answered faster than the minimum plausible time']]);
    const flagged = await env.db.selectFrom('qa_submissions').select(['assignment_id', 'fast']).where('worker_id', '=', w!.workerId).orderBy('assignment_id').execute();
    expect(flagged.map((f) => f.fast)).toEqual([true, true]);
  });

  test('on a job without a skill, a suspect gold item gives its scores back to the per-job records too', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 1, qa_policy: JSON.stringify(policy) });
    const good = await goldTasks(env.db, job.id, 10, () => pick('cat'));
    const [badGold] = await goldTasks(env.db, job.id, 1, () => pick('dog'));
    const experts = await workersOf(seed, 3);
    await decideSubmissions(env.db, await submit(env.db, seed, [...good, badGold!], experts, () => pick('cat'), { timeSpentMs: 5000 }), new Date());
    expect((await env.db.selectFrom('qa_suspect_gold').select('task_id').where('job_id', '=', job.id).execute()).map((r) => r.task_id)).toEqual([badGold!.id]);
    const records = await env.db.selectFrom('qa_worker_jobs').select(['gold_total', 'gold_correct', 'suspended_at']).where('job_id', '=', job.id).execute();
    expect(records).toEqual(experts.map(() => ({ gold_total: 10, gold_correct: 10, suspended_at: null })));
  });

  test('a gold item most high-accuracy workers fail is flagged suspect and stops counting', async ({ env, seed }) => {
    const job = await seed.activeJob(1, { overlap: 1, required_skill: 'tagging', qa_policy: JSON.stringify(policy) });
    const good = await goldTasks(env.db, job.id, 10, () => pick('cat'));
    const [badGold] = await goldTasks(env.db, job.id, 1, () => pick('dog'));
    const experts = await workersOf(seed, 3, { tagging: 1 });
    await decideSubmissions(env.db, await submit(env.db, seed, good, experts, () => pick('cat'), { timeSpentMs: 5000 }), new Date());
    const onBad = await submit(env.db, seed, [badGold!], experts, () => pick('cat'), { timeSpentMs: 5000 });
    await decideSubmissions(env.db, onBad.slice(0, 2), new Date());
    expect(await env.db.selectFrom('qa_suspect_gold').selectAll().where('job_id', '=', job.id).execute()).toEqual([]);
    await decideSubmissions(env.db, onBad.slice(2), new Date());
    const suspect = await env.db.selectFrom('qa_suspect_gold').select(['task_id', 'evidence']).where('job_id', '=', job.id).execute();
    expect(suspect.map((s) => [s.task_id, (s.evidence as { experts: number; expertFailures: number }).expertFailures])).toEqual([[badGold!.id, 3]]);
    // The experts' records are back to their ten good answers; the claim no longer offers the item.
    const records = await env.db.selectFrom('qa_worker_skills').select(['gold_total', 'gold_correct']).where('worker_id', 'in', experts.map((e) => e.workerId)).execute();
    expect(records).toEqual(experts.map(() => ({ gold_total: 10, gold_correct: 10 })));
    await sql`UPDATE jobs SET qa_policy = qa_policy || '{"gold_ratio": 1}' WHERE id = ${job.id}`.execute(env.db);
    const [fresh] = await workersOf(seed, 1, { tagging: 1 });
    const offered: (number | null)[] = [];
    for (let i = 0; i < 11; i++) offered.push((await claim(env.db, fresh!)).task_id);
    expect(offered).toEqual([...good.map((g) => g.id), job.tasks[0]!.id]);
  });
});
