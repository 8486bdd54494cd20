import { describe, expect } from 'vitest';
import { sql } from 'kysely';
import type { EventPayload } from '@fairlabel/contracts';
import type { Db } from '@fairlabel/db';
import { integrationTest } from '@fairlabel/testing';
import { workersInPeriod } from '../src/floors.js';
import { asDecision, decided, ledgerIsConsistent, post, transactionsOf, workHoursDrift as drift, world } from './helpers.js';

// settlement_work_hours (st_work_hours.sql) keeps each worker's hours as decisions and reviews are
// recorded; the floors read it instead of a pass over the period's work. Its figures must be exactly
// what that pass computed, under repeated events, decisions out of order, appeals and reversals.

const test = integrationTest();

const HOUR = 3_600_000;
const MIN = 60_000;

/** The floors' pass over decisions and reviews as it was before hours were kept: the oracle. */
async function passOverTheWork(db: Db, currency: string, from: Date, to: Date) {
  const r = await sql<{ worker_id: string; client_id: string; ms: string }>`
    WITH first_decision AS (
      SELECT d.assignment_id, min(d.decided_at) AS decided_at FROM settlement_decisions d GROUP BY d.assignment_id
    ),
    decided AS (
      SELECT a.worker_id, j.client_id,
        greatest(0, least(coalesce(a.time_spent_ms::numeric, w.wall), w.wall)) AS ms
      FROM first_decision f
      JOIN assignments a ON a.id = f.assignment_id
      JOIN jobs j ON j.id = a.job_id
      CROSS JOIN LATERAL (SELECT extract(epoch FROM coalesce(a.submitted_at, a.ended_at, f.decided_at) - a.leased_at) * 1000 AS wall) w
      WHERE f.decided_at >= ${from} AND f.decided_at < ${to} AND j.currency = ${currency}
    ),
    reviewed AS (
      SELECT r.reviewer_worker_id AS worker_id, r.client_id, coalesce(r.time_spent_ms, 0)::numeric AS ms
      FROM settlement_reviews r JOIN jobs j ON j.id = r.job_id
      WHERE r.completed_at >= ${from} AND r.completed_at < ${to} AND j.currency = ${currency}
    )
    SELECT worker_id, client_id, round(sum(ms))::text AS ms
    FROM (SELECT * FROM decided UNION ALL SELECT * FROM reviewed) x
    GROUP BY worker_id, client_id ORDER BY worker_id, client_id
  `.execute(db);
  return r.rows;
}

async function keptIn(db: Db, currency: string, from: Date, to: Date) {
  const r = await sql<{ worker_id: string; client_id: string; ms: string }>`
    SELECT worker_id, client_id, round(sum(ms))::text AS ms FROM st_work_hours_in(${currency}, ${from}, ${to})
    GROUP BY worker_id, client_id ORDER BY worker_id, client_id
  `.execute(db);
  return r.rows;
}

describe('kept hours', () => {
  test('equal a recomputation from the source rows under repeats, re-orderings, appeals, reversals and reviews, for any period', async ({ env, seed }) => {
    const w = await world(seed, { workers: 3, tasks: 3 });
    const client = w.client.organizationId;
    // A whole UTC hour well in the past, so every period below has ended.
    const H = Math.floor((Date.now() - 12 * HOUR) / HOUR) * HOUR;
    const at = (ms: number) => new Date(H + ms);
    // Each assignment leased 40 min before H, submitted 10 min after its lease with a reported time
    // (one reports more than the wall time and is capped, one reports nothing).
    const spent = [5 * MIN, 7 * MIN, null, 60 * MIN, 3 * MIN, 9 * MIN, 2 * MIN, 4 * MIN, 8 * MIN];
    for (const [i, a] of w.assignments.entries()) {
      await sql`UPDATE assignments SET leased_at = ${at(-40 * MIN + i * MIN)}, submitted_at = ${at(-30 * MIN + i * MIN)},
        ended_at = ${at(-30 * MIN + i * MIN)}, time_spent_ms = ${spent[i]} WHERE id = ${a.id}`.execute(env.db);
    }
    const [a0, a1, a2, a3, a4, a5, a6] = w.assignments;
    const d = (a: (typeof w.assignments)[number], outcome: 'accepted' | 'rejected', when: number, extra: Partial<EventPayload<'assignment.decided'>> = {}) =>
      decided(a, client, outcome, { decided_at: at(when).toISOString(), ...extra });

    const first = [d(a0!, 'accepted', 10 * MIN), d(a1!, 'accepted', 50 * MIN), d(a2!, 'accepted', 80 * MIN), d(a3!, 'rejected', 125 * MIN)];
    await post(env.db, ...first.map(asDecision));
    expect(await drift(env.db)).toBe(0);
    // The same decisions again: nothing changes.
    const before = await sql`SELECT * FROM settlement_work_hours ORDER BY hour, worker_id`.execute(env.db);
    await post(env.db, ...first.map(asDecision));
    expect((await sql`SELECT * FROM settlement_work_hours ORDER BY hour, worker_id`.execute(env.db)).rows).toEqual(before.rows);

    // Out of order: an upheld appeal (decided 3h10) arrives before the rejection it supersedes (1h40):
    // the hours count on the first decision, so they move from hour 3 to hour 1.
    const rejection = d(a4!, 'rejected', 100 * MIN);
    await post(env.db, asDecision(d(a4!, 'accepted', 190 * MIN, { supersedes_decision_id: rejection.decision_id })));
    expect(await drift(env.db)).toBe(0);
    await post(env.db, asDecision(rejection));
    expect(await drift(env.db)).toBe(0);
    const moved = await sql<{ hour: Date; pieces: number }>`SELECT hour, pieces FROM settlement_work_hours WHERE worker_id = ${a4!.worker_id} AND hour >= ${at(3 * HOUR)}`.execute(env.db);
    expect(moved.rows.length).toBeGreaterThan(0);
    expect(moved.rows.every((r) => r.pieces === 0)).toBe(true);

    // In order: a rejection, then its upheld appeal; an acceptance reversed later. Hours stay on the first decision.
    const rejected = d(a5!, 'rejected', 150 * MIN);
    await post(env.db, asDecision(rejected), asDecision(d(a6!, 'accepted', 59 * MIN)));
    await post(env.db, asDecision(d(a5!, 'accepted', 210 * MIN, { supersedes_decision_id: rejected.decision_id })));
    await post(env.db, asDecision(d(a0!, 'rejected', 240 * MIN, { supersedes_decision_id: first[0]!.decision_id })));
    // A review, twice.
    const review: EventPayload<'review.completed'> = {
      review_id: 5,
      reviewer_worker_id: w.workers[2]!.workerId,
      reviewer_vendor_id: w.vendor.organizationId,
      assignment_id: a1!.id,
      job_id: w.job.id,
      client_id: client,
      outcome: 'accepted',
      completed_at: at(115 * MIN).toISOString(),
      time_spent_ms: 20 * MIN,
    };
    await post(env.db, { event: 'review.completed', payload: review });
    await post(env.db, { event: 'review.completed', payload: review });
    expect(await drift(env.db)).toBe(0);

    // Any period: on the hour, with partial hours at either edge, inside one hour, empty.
    const periods: [number, number][] = [
      [0, 5 * HOUR],
      [-HOUR, 6 * HOUR],
      [15 * MIN, 165 * MIN],
      [55 * MIN, 125 * MIN],
      [70 * MIN, 110 * MIN],
      [100 * MIN, 100 * MIN],
      [10 * MIN, 10 * MIN + 1],
    ];
    for (const [from, to] of periods) {
      const expected = await passOverTheWork(env.db, 'USD', at(from), at(to));
      expect(await keptIn(env.db, 'USD', at(from), at(to)), `period [${from / MIN}, ${to / MIN}) min`).toEqual(expected);
    }
    expect((await passOverTheWork(env.db, 'USD', at(0), at(5 * HOUR))).length).toBe(3);
    // workersInPeriod (the pay run's floors) adds up the same hours.
    const all = await workersInPeriod(env.db, 'USD', at(-HOUR), at(6 * HOUR));
    const expected = await passOverTheWork(env.db, 'USD', at(-HOUR), at(6 * HOUR));
    expect(all.map((x) => [x.workerId, x.hoursMs]).sort()).toEqual(expected.map((x) => [x.worker_id, BigInt(x.ms)]).sort());

    // The rebuild recomputes the table from the source rows (a repair, or a backfill).
    await sql`UPDATE settlement_work_hours SET ms = ms + 1`.execute(env.db);
    expect(await drift(env.db)).toBeGreaterThan(0);
    await sql`SELECT st_work_hours_rebuild()`.execute(env.db);
    expect(await drift(env.db)).toBe(0);
    for (const [from, to] of periods) expect(await keptIn(env.db, 'USD', at(from), at(to))).toEqual(await passOverTheWork(env.db, 'USD', at(from), at(to)));
  });

  test('two batches recording decisions of the same assignments at once count each assignment once and settle it on its last decision', async ({ env, seed }) => {
    // st_post_events records a batch's decisions before it takes the ledger lock, so two consumer
    // connections can each have recorded theirs, uncommitted, while they wait for the lock: neither sees
    // the other's until it commits. Here both wait on a third connection holding the lock, with
    // decisions of the same assignments (a rejection in one, its upheld appeal decided earlier in the
    // other, a duplicate in both), and whichever goes second must see the first's.
    const w = await world(seed, { workers: 2, tasks: 3 });
    const client = w.client.organizationId;
    const H = Math.floor((Date.now() - 12 * HOUR) / HOUR) * HOUR;
    const at = (ms: number) => new Date(H + ms);
    for (const [i, a] of w.assignments.entries()) {
      await sql`UPDATE assignments SET leased_at = ${at(-40 * MIN)}, submitted_at = ${at(-30 * MIN)}, ended_at = ${at(-30 * MIN)},
        time_spent_ms = ${(i + 1) * MIN} WHERE id = ${a.id}`.execute(env.db);
    }
    // Worker 0's assignments a0–a2, worker 1's a3–a5.
    const [a0, a1, a2, a3, a4, a5] = w.assignments;
    // The payees' accounts exist first: a batch creating an account waits for another creating the same
    // one, and that would order the two batches before either read anything.
    await post(env.db, asDecision(decided(a2!, client, 'accepted', { decided_at: at(5 * MIN).toISOString() })), asDecision(decided(a5!, client, 'accepted', { decided_at: at(5 * MIN).toISOString() })));
    const rejection = decided(a0!, client, 'rejected', { decided_at: at(150 * MIN).toISOString() });
    const appeal = decided(a0!, client, 'accepted', { decided_at: at(70 * MIN).toISOString(), supersedes_decision_id: rejection.decision_id });
    const both = decided(a1!, client, 'accepted', { decided_at: at(20 * MIN).toISOString() });

    const waiting = () =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(env.db);
    /**
     * Posts two batches while a third connection holds the ledger lock, the second once the first
     * waits, then lets them go: they take the lock in that order (its waiters queue).
     */
    const atOnce = async (one: EventPayload<'assignment.decided'>[], other: EventPayload<'assignment.decided'>[]) => {
      const posts: Promise<void>[] = [];
      await env.db.transaction().execute(async (trx) => {
        await sql`SELECT st_ledger_lock()`.execute(trx);
        posts.push(post(env.db, ...one.map(asDecision)));
        await expect.poll(async () => (await waiting()).rows[0]!.n, { timeout: 10_000 }).toBe(1);
        posts.push(post(env.db, ...other.map(asDecision)));
        // Both batches have recorded what they could and wait: on the ledger lock, or (a duplicate) on
        // the other batch's uncommitted row.
        await expect.poll(async () => (await waiting()).rows[0]!.n, { timeout: 10_000 }).toBe(2);
      });
      await Promise.all(posts);
    };
    // Both record their decision of a0 before either can see the other's. The second, the rejection,
    // worked out a0's hours and pay from the rejection alone; under the lock it finds the appeal that
    // supersedes it and is dated earlier: the hours move back to the appeal, and the pay stays.
    await atOnce([appeal, decided(a3!, client, 'accepted', { decided_at: at(10 * MIN).toISOString() })],
                 [rejection, decided(a4!, client, 'rejected', { decided_at: at(130 * MIN).toISOString() })]);
    expect(await drift(env.db)).toBe(0);
    // The same new decision in both: the second waits on the first's row, then records nothing.
    await atOnce([both], [both]);

    expect(await drift(env.db)).toBe(0);
    expect(await ledgerIsConsistent(env.db)).toMatchObject({ unbalanced: 0, drifted: 0, total: '0' });
    // a0's last word is the appeal: its earning, and nothing taken back.
    expect((await transactionsOf(env.db, a0!.id)).map((t) => t.kind)).toEqual(['earning']);
    expect((await transactionsOf(env.db, a1!.id)).map((t) => t.kind)).toEqual(['earning']);
    expect((await transactionsOf(env.db, a3!.id)).map((t) => t.kind)).toEqual(['earning']);
    expect(await transactionsOf(env.db, a4!.id)).toEqual([]);
    // a0's hours count once, on its first decision (the appeal, decided earlier).
    const a0Hours = await sql<{ hour: Date; pieces: number }>`
      SELECT hour, pieces FROM settlement_work_hours WHERE worker_id = ${a0!.worker_id} AND pieces <> 0 ORDER BY hour`.execute(env.db);
    expect(a0Hours.rows.map((r) => [r.hour.getTime(), r.pieces])).toContainEqual([at(60 * MIN).getTime(), 1]);
  });
});

