import { describe, expect } from 'vitest';
import { choicesConfig, integrationTest, type Seed, type WorkerActor } from '@fairlabel/testing';
import type { Db } from '@fairlabel/db';
import { syntheticJob, type SyntheticWorker } from '../src/aggregate/synthetic.js';
import { qaHandlers } from '../src/qa.consumer.js';
import { decisionsOf, goldTasks, pick, submit, workersOf, type Submitted } from './helpers.js';

// Consensus through the consumer's handlers (group-committed batches, the path BullMQ drives).

const test = integrationTest();
const ctx = { jobId: 'test', attempt: 1, log: undefined as never };

/** A job of `items` tasks answered by `workers` as the synthetic crowd says, decided through the consumer; returns its accuracy against the truth. */
async function crowdAccuracy(env: { db: Db }, seed: Seed, method: string, crowd: ReturnType<typeof syntheticJob>, workers: WorkerActor[]): Promise<number> {
  const items = crowd.truth.size;
  const job = await seed.activeJob(items, { overlap: workers.length, label_config: JSON.stringify(choicesConfig(crowd.labels)), qa_policy: JSON.stringify({ consensus_method: method }) });
  const byItem = new Map<string, string>();
  for (const r of crowd.rows) byItem.set(`${r.item}/${r.worker}`, r.label);
  const itemOf = new Map(job.tasks.map((t, i) => [t.id, `item-${i}`]));
  const events = await submit(env.db, seed, job.tasks, workers, (t, w) => pick(byItem.get(`${itemOf.get(t.id)}/w${w}`)!));
  // Arrival order: item by item, every answer of an item before the next item's.
  const order = [...events].sort((a, b) => a.task_id - b.task_id || a.assignment_id - b.assignment_id);
  const { handlers } = qaHandlers(env as never, 200);
  const submitted = handlers['assignment.submitted']!;
  for (let i = 0; i < order.length; i += 100) await Promise.all(order.slice(i, i + 100).map((e: Submitted) => submitted(e, ctx)));
  const { tasks } = await decisionsOf(env.db, job);
  expect(tasks).toHaveLength(items);
  const right = tasks.filter((t) => (t.result as { label: { choices: string[] } }).label.choices[0] === crowd.truth.get(itemOf.get(t.task_id)!)).length;
  return right / items;
}

describe('consensus methods through the consumer', () => {
  test('3 random and 2 accurate annotators: Dawid–Skene (incremental) beats majority vote by at least 10 points', async ({ env, seed }) => {
    const kinds: SyntheticWorker[] = [{ kind: 'random' }, { kind: 'accurate', accuracy: 0.8 }, { kind: 'random' }, { kind: 'accurate', accuracy: 0.8 }, { kind: 'random' }];
    const crowd = syntheticJob({ seed: 20261129, items: 400, labels: 4, workers: kinds });
    const workers = await workersOf(seed, 5);
    const mv = await crowdAccuracy(env, seed, 'majority', crowd, workers);
    const ds = await crowdAccuracy(env, seed, 'dawid_skene', crowd, workers);
    console.log(`synthetic crowd (400 items, 4 labels, 3 random + 2 at 0.8): majority ${mv.toFixed(3)}, Dawid–Skene ${ds.toFixed(3)}`);
    expect(ds - mv).toBeGreaterThanOrEqual(0.1);
  }, 120_000);

  test('colluders who agree with each other and fail gold are outvoted by gold-anchored trust and rejected', async ({ env, seed }) => {
    const job = await seed.activeJob(5, { overlap: 3 });
    const gold = await goldTasks(env.db, job.id, 6, () => pick('cat'));
    const [honest, c1, c2] = await workersOf(seed, 3);
    const { handlers } = qaHandlers(env);
    const run = async (events: Submitted[]) => Promise.all(events.map((e) => handlers['assignment.submitted']!(e, ctx)));
    // Gold first: the honest worker passes, the colluders fail every item.
    await run(await submit(env.db, seed, gold, [honest!, c1!, c2!], (_t, w) => pick(w === 0 ? 'cat' : 'dog'), { timeSpentMs: 5000 }));
    // Then the work: the colluders agree on 'dog' every time, two against one.
    await run(await submit(env.db, seed, job.tasks, [honest!, c1!, c2!], (_t, w) => pick(w === 0 ? 'cat' : 'dog'), { timeSpentMs: 5000 }));
    const { tasks, assignments } = await decisionsOf(env.db, job);
    expect(tasks.map((t) => t.result)).toEqual(job.tasks.map(() => pick('cat')));
    const work = assignments.filter((a) => a.kind === 'annotation');
    expect(work.filter((a) => a.outcome === 'accepted').map((a) => a.worker_id)).toEqual(job.tasks.map(() => honest!.workerId));
    expect(work.filter((a) => a.outcome === 'rejected')).toHaveLength(10);
  });
});
