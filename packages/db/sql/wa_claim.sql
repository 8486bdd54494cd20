-- requires: wa_claim_job.sql wa_claim_candidates.sql wa_claim_take.sql wa_open_slots.sql wa_claim_after_crash.sql
--
-- The claim: one call reads the worker, checks them, picks the best task they are eligible for, locks
-- its slot, inserts the assignment and returns what the worker is shown. One round trip, and the
-- statements inside keep their plans per connection (PL/pgSQL), so a claim neither re-plans its
-- queries nor pays a round trip per step.
--
-- THE CLAIM'S RULES (the one place they are written down; the code below and the files it names
-- implement them; services/worker-assignment/test/claim-sql.test.ts calls this function for each)
--
-- 1. Worker checks, only with p_check_worker (a long poll checks once, before it starts waiting):
--    - the worker must exist and belong to p_vendor_id, else 'not_found' (checked always);
--    - workers.status must be 'active', else 'suspended';
--    - with a daily_active_limit_seconds, the active time of the worker's current day (in their time
--      zone) must be below it, else 'daily_limit_reached' with the limit, zone and next midnight.
--      Active time is measured by the server: lease start to submit/release/expiry (ended_at), or to
--      now (at most the lease's expiry) for a live lease.
-- 2. Eligibility of a job (wa_claim_job): it is active; the vendor is on its allow-list (or it
--    has none); the worker's region is allowed (country `IN` or country-province `IN-KA`; or it has no
--    list); with a required skill, the worker has it at the job's minimum level or above and is not
--    suspended from it; the worker is not suspended from the job itself (worker_job_blocks).
-- 3. Eligibility of a task (wa_open_slots): it has an open slot (open, and fewer leased + submitted +
--    accepted assignments than its required annotations: overlap never overfills) and this worker
--    never had an assignment for it, in any state (unique (task_id, worker_id) backs this up).
-- 4. Vendor share cap (jobs.vendor_share_caps[vendor], a fraction): the vendor may hold at most
--    floor(cap × the job's total slots) of its leased + submitted + accepted assignments; the 1e-9
--    absorbs float error (0.29 × 100 is 28.999999999999996 in float8, and must allow 29).
-- 5. Order: job priority (highest first), then the job's best open task priority (highest first),
--    then deadline (earliest first, none last), then task id (oldest first). Within a job, tasks go
--    by priority, then oldest.
-- 6. Search: the hinted jobs first (p_jobs: the caller's cached job order, best first; the first
--    ${WA_HINTED_JOBS}), walked lazily: each hinted job in turn is probed (wa_claim_job) only while it could
--    still beat the best job probed so far. Its bound is its key with its first open slot for anyone (a
--    worker's first open slot in a job is never better than that), one probe without the anti-join; the
--    walk stops at the first job whose bound is not better. In a hint in claim order every later job's
--    bound is worse still, so the walk gives rule 5's choice among the hinted jobs, in the common case
--    after one probe and one bound, whatever the number of active jobs. (The hint is at most a second
--    old; a job that moved up since can be passed over until the next refresh, as before.) Then, with
--    p_full_search, every active job, ${WA_CLAIM_BATCH} at a time (wa_claim_candidates, which probes them
--    all); without it, only p_jobs (the caller applied a rule of its own to pick them: fair share).
--    Slots other claims hold locked are skipped (SKIP LOCKED): any number of gateway processes claim
--    different slots without waiting on each other. The chosen job's slot is taken by wa_claim_take
--    (rules 4, 7 and 8); a job that gives nothing is excluded and the search goes on.
-- 7. Lease: now + wa_lease_interval(job lease time, worker accommodations).
-- 8. Gold (QA's control items, tasks with a `gold` answer; kept minimal and apart from rules 3–6): gold
--    items have no open slots (wa_tasks_inserted, wa_task_changed and wa_assignment_changed keep them at
--    0), so the slot search never hands them out and they never count toward any task's overlap. With
--    probability jobs.qa_policy.gold_ratio a claim on a job first offers the job's first gold item this
--    worker has not answered (each eligible worker answers each one once; unique (task_id, worker_id))
--    that QA has not flagged suspect (qa_suspect_gold); when there is none, rule 3 applies. The worker
--    is shown it like any other item: nothing in the claim says it is gold. Gold is mixed into a job's
--    ordinary work: a job is a candidate (rule 2) only while it has an open slot for the worker.
-- 9. Durability: a claim's transaction commits asynchronously (synchronous_commit off for that
--    transaction only): its commit does not wait for the WAL flush, which on this machine was the tail
--    of the claim's latency (commits of 30–100 ms under WALSync/WALWrite waits). What it risks is
--    bounded: a claim is a lease, not money, and WAL is written in order, so any later synchronous
--    commit — the worker's submit, every money and QA write — flushes the claim with it. Only a claim
--    made in the last ~0.6 s before Postgres crashes (3 × wal_writer_delay) can be lost; after the
--    restart its slot is open again and the worker's heartbeat or submit answers that the lease is
--    gone, so they lose under a second of work and no one is paid twice or not at all. Data is never
--    corrupted by it (PostgreSQL docs, "Asynchronous Commit"). The lost claims' ids are never handed
--    out again (wa_claim_after_crash), so an old lease id cannot reach someone else's new lease.
-- Fair share across vendors (who gets the next slots while vendors compete) depends on Redis state
-- and lives in claim.service.ts / fair-share.ts, which call this function with the jobs it allows.
--
-- Outcomes: 'claimed' (with the assignment and what the worker is shown), 'none' (nothing eligible),
-- 'not_found', 'suspended', 'daily_limit_reached'.
CREATE OR REPLACE FUNCTION wa_claim(p_worker_id uuid, p_vendor_id uuid, p_now timestamptz, p_check_worker boolean, p_jobs uuid[], p_full_search boolean)
RETURNS wa_claim_result LANGUAGE plpgsql
-- Planned with sequential scans off: every statement here is a lookup by key, and a plan cached while
-- a table was tiny must not keep a sequential scan as it grows (migration 20261128T1100_claim_plans).
SET enable_seqscan = off AS $f$
DECLARE
  wk record;
  c record;
  b record;
  cand record;
  r wa_claim_result;
  v_day_start timestamptz;
  v_active_seconds float8;
  v_hinted integer := least(coalesce(cardinality(p_jobs), 0), ${WA_HINTED_JOBS});
  v_excluded uuid[] := '{}';
  v_job uuid;
  v_any boolean;
  -- The best job of the lazy walk so far, with its share cap and its key (rule 5).
  v_pick uuid;
  v_pick_cap float8;
  v_pick_key record;
BEGIN
  -- Rule 9 (asynchronous commit of the claim's transaction): set for the transaction, not by a SET
  -- clause on the function, which would be undone when the function returns, before the commit —
  -- unless this transaction moved the ids on after a crash (wa_claim_after_crash), which must be durable.
  IF NOT EXISTS (SELECT 1 FROM wa_claim_epoch) THEN
    PERFORM wa_claim_after_crash();
  END IF;
  IF current_setting('fairlabel.claim_commit', true) IS DISTINCT FROM 'sync' THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  SELECT w.status, w.timezone, w.accommodations, w.daily_active_limit_seconds AS daily_limit
    INTO wk
    FROM workers w WHERE w.id = p_worker_id AND w.vendor_id = p_vendor_id;
  IF NOT FOUND THEN
    r.outcome := 'not_found';
    RETURN r;
  END IF;

  IF p_check_worker THEN
    IF wk.status <> 'active' THEN
      r.outcome := 'suspended';
      RETURN r;
    END IF;
    IF wk.daily_limit IS NOT NULL THEN
      v_day_start := date_trunc('day', p_now AT TIME ZONE wk.timezone) AT TIME ZONE wk.timezone;
      SELECT coalesce(sum(extract(epoch FROM coalesce(a.ended_at, least(p_now, a.lease_expires_at)) - a.leased_at)), 0)::float8
        INTO v_active_seconds
        FROM assignments a WHERE a.worker_id = p_worker_id AND a.leased_at >= v_day_start;
      IF v_active_seconds >= wk.daily_limit THEN
        r.outcome := 'daily_limit_reached';
        r.daily_active_limit_seconds := wk.daily_limit;
        r.timezone := wk.timezone;
        r.resets_at := (date_trunc('day', p_now AT TIME ZONE wk.timezone) + interval '1 day') AT TIME ZONE wk.timezone;
        RETURN r;
      END IF;
    END IF;
  END IF;

  -- Rule 6, the hinted jobs, walked lazily. Each pass chooses one job; one that gives nothing is
  -- excluded and the next pass walks the rest. Keys compare as rows: (-job priority, -task priority,
  -- deadline with none last, task id), smallest best.
  FOR v_pass IN 1 .. v_hinted LOOP
    v_pick := NULL;
    FOR i IN 1 .. v_hinted LOOP
      v_job := p_jobs[i];
      CONTINUE WHEN v_job = ANY (v_excluded);
      IF v_pick IS NOT NULL THEN
        SELECT -j.priority AS jp, -h.priority AS tp, coalesce(j.deadline, 'infinity') AS dl, h.task_id AS tid INTO b
          FROM jobs j CROSS JOIN LATERAL (SELECT o.priority, o.task_id FROM wa_open_slots(j.id, NULL) o LIMIT 1) h
          WHERE j.id = v_job AND j.status = 'active';
        IF NOT FOUND THEN
          -- Not active, or no open slot for anyone: nothing here for this claim.
          v_excluded := v_excluded || v_job;
          CONTINUE;
        END IF;
        EXIT WHEN NOT ((b.jp, b.tp, b.dl, b.tid) < (v_pick_key.jp, v_pick_key.tp, v_pick_key.dl, v_pick_key.tid));
      END IF;
      SELECT x.job_id, x.share_cap, -x.job_priority AS jp, -x.task_priority AS tp, coalesce(x.deadline, 'infinity') AS dl, x.task_id AS tid INTO c
        FROM wa_claim_job(p_worker_id, p_vendor_id, v_job) x;
      IF NOT FOUND THEN
        v_excluded := v_excluded || v_job;
        CONTINUE;
      END IF;
      -- (Two branches: the key of no pick yet cannot be read.)
      IF v_pick IS NULL THEN
        v_pick := c.job_id;
        v_pick_cap := c.share_cap;
        v_pick_key := c;
      ELSIF (c.jp, c.tp, c.dl, c.tid) < (v_pick_key.jp, v_pick_key.tp, v_pick_key.dl, v_pick_key.tid) THEN
        v_pick := c.job_id;
        v_pick_cap := c.share_cap;
        v_pick_key := c;
      END IF;
    END LOOP;
    EXIT WHEN v_pick IS NULL;
    v_excluded := v_excluded || v_pick;
    r := wa_claim_take(p_worker_id, p_vendor_id, p_now, v_pick, v_pick_cap, wk.accommodations);
    IF r.outcome = 'claimed' THEN
      RETURN r;
    END IF;
  END LOOP;

  -- The full search: every active job not tried yet, best first, ${WA_CLAIM_BATCH} at a time.
  IF p_full_search THEN
    LOOP
      v_any := false;
      FOR cand IN SELECT x.job_id, x.share_cap FROM wa_claim_candidates(p_worker_id, p_vendor_id, v_excluded, NULL) x
      LOOP
        v_any := true;
        v_excluded := v_excluded || cand.job_id;
        r := wa_claim_take(p_worker_id, p_vendor_id, p_now, cand.job_id, cand.share_cap, wk.accommodations);
        IF r.outcome = 'claimed' THEN
          RETURN r;
        END IF;
      END LOOP;
      EXIT WHEN NOT v_any;
    END LOOP;
  END IF;
  r := NULL;
  r.outcome := 'none';
  RETURN r;
END $f$;
