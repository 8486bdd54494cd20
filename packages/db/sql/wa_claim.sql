-- requires: wa_claim_candidates.sql wa_open_slots.sql wa_lease_interval.sql wa_assignment_takes_slot.sql
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
-- 2. Eligibility of a job (wa_claim_candidates): it is active; the vendor is on its allow-list (or it
--    has none); the worker's region is allowed (country `IN` or country-province `IN-KA`; or it has no
--    list); with a required skill, the worker has it at the job's minimum level or above and is not
--    suspended from it.
-- 3. Eligibility of a task (wa_open_slots): it has an open slot (open, and fewer leased + submitted +
--    accepted assignments than its required annotations: overlap never overfills) and this worker
--    never had an assignment for it, in any state (unique (task_id, worker_id) backs this up).
-- 4. Vendor share cap (jobs.vendor_share_caps[vendor], a fraction): the vendor may hold at most
--    floor(cap × the job's total slots) of its leased + submitted + accepted assignments; the 1e-9
--    absorbs float error (0.29 × 100 is 28.999999999999996 in float8, and must allow 29).
-- 5. Order: job priority (highest first), then the job's best open task priority (highest first),
--    then deadline (earliest first, none last), then task id (oldest first). Within a job, tasks go
--    by priority, then oldest.
-- 6. Search: the hinted jobs first (p_jobs: the caller's cached job order; the first ${WA_HINTED_JOBS},
--    ${WA_CLAIM_BATCH} at a time), then, with p_full_search, every active job, ${WA_CLAIM_BATCH} at a
--    time; without it, only p_jobs (the caller applied a rule of its own to pick them: fair share).
--    Slots other claims hold locked are skipped (SKIP LOCKED): any number of gateway processes claim
--    different slots without waiting on each other.
-- 7. Lease: now + wa_lease_interval(job lease time, worker accommodations).
-- 8. Gold (QA's control items, tasks with a `gold` answer; kept minimal and apart from rules 3–6): gold
--    items have no open slots (wa_tasks_inserted, wa_task_changed and wa_assignment_changed keep them at
--    0), so the slot search never hands them out and they never count toward any task's overlap. With
--    probability jobs.qa_policy.gold_ratio a claim on a job first offers the job's first gold item this
--    worker has not answered (each eligible worker answers each one once; unique (task_id, worker_id))
--    that QA has not flagged suspect (qa_suspect_gold); when there is none, rule 3 applies. The worker
--    is shown it like any other item: nothing in the claim says it is gold. Gold is mixed into a job's
--    ordinary work: a job is a candidate (rule 2) only while it has an open slot for the worker.
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
  cand record;
  r wa_claim_result;
  v_day_start timestamptz;
  v_active_seconds float8;
  v_hint_rounds integer := ceil(least(coalesce(cardinality(p_jobs), 0), ${WA_HINTED_JOBS})::numeric / ${WA_CLAIM_BATCH})::integer;
  v_round integer := 0;
  v_only uuid[];
  v_excluded uuid[] := '{}';
  v_any boolean;
  v_held bigint;
  v_total bigint;
  v_task_id bigint;
  v_open refcursor;
BEGIN
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

  LOOP
    IF v_round < v_hint_rounds THEN
      v_only := p_jobs[v_round * ${WA_CLAIM_BATCH} + 1 : (v_round + 1) * ${WA_CLAIM_BATCH}];
    ELSIF p_full_search THEN
      v_only := NULL;
    ELSE
      r.outcome := 'none';
      RETURN r;
    END IF;
    v_round := v_round + 1;
    v_any := false;

    FOR cand IN SELECT c.job_id, c.share_cap FROM wa_claim_candidates(p_worker_id, p_vendor_id, v_excluded, v_only) c
    LOOP
      v_any := true;
      v_excluded := v_excluded || cand.job_id;

      -- The share cap. The usage row is created on first need (counted once from assignments) and
      -- locked, so concurrent claims of the same vendor on the same job check and take in turn;
      -- triggers keep it current (wa_assignment_changed).
      IF cand.share_cap IS NOT NULL THEN
        SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
          FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
          WHERE u.job_id = cand.job_id AND u.vendor_id = p_vendor_id
          FOR UPDATE OF u;
        IF NOT FOUND THEN
          INSERT INTO job_vendor_usage (job_id, vendor_id, held)
          SELECT cand.job_id, p_vendor_id, count(*) FROM assignments a
          WHERE a.job_id = cand.job_id AND a.vendor_id = p_vendor_id AND wa_assignment_takes_slot(a.status)
          ON CONFLICT DO NOTHING;
          SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
            FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
            WHERE u.job_id = cand.job_id AND u.vendor_id = p_vendor_id
            FOR UPDATE OF u;
        END IF;
        CONTINUE WHEN NOT (v_held + 1 <= floor(cand.share_cap * v_total + 1e-9));
      END IF;

      -- The job's open slots in order, each locked unless another claim holds it. The cursor fetches
      -- one row at a time and is planned for a few rows, so this is the same probe as the candidates'
      -- (wa_open_slots) without a second copy of it; the lock re-checks open_slots on the row as it is
      -- now, since the slot may have filled after the cursor's snapshot.
      v_task_id := NULL;
      -- Rule 8 (gold, qa-sampling's): with probability gold_ratio this claim offers a gold item first.
      IF random() < (SELECT coalesce((j.qa_policy->>'gold_ratio')::float8, 0) FROM jobs j WHERE j.id = cand.job_id) THEN
        SELECT t.id INTO v_task_id FROM tasks t
        WHERE t.job_id = cand.job_id AND t.gold IS NOT NULL AND t.status = 'open'
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.worker_id = p_worker_id)
          AND NOT EXISTS (SELECT 1 FROM qa_suspect_gold g WHERE g.task_id = t.id)
        ORDER BY t.id LIMIT 1;
      END IF;
      IF v_task_id IS NULL THEN
        OPEN v_open NO SCROLL FOR SELECT o.task_id FROM wa_open_slots(cand.job_id, p_worker_id) o;
        LOOP
          FETCH v_open INTO v_task_id;
          EXIT WHEN NOT FOUND;
          PERFORM 1 FROM task_slots s WHERE s.task_id = v_task_id AND s.open_slots > 0 FOR UPDATE SKIP LOCKED;
          EXIT WHEN FOUND;
          v_task_id := NULL;
        END LOOP;
        CLOSE v_open;
      END IF;
      CONTINUE WHEN v_task_id IS NULL;

      -- The insert trigger takes the slot; unique (task_id, worker_id) backs up "never the same item twice".
      INSERT INTO assignments AS a (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at)
      SELECT v_task_id, j.id, p_worker_id, p_vendor_id, 'leased', p_now, p_now + wa_lease_interval(j.lease_seconds, wk.accommodations)
      FROM jobs j WHERE j.id = cand.job_id
      ON CONFLICT (task_id, worker_id) DO NOTHING
      RETURNING a.id, a.leased_at, a.lease_expires_at INTO r.id, r.leased_at, r.lease_expires_at;
      CONTINUE WHEN NOT FOUND;

      SELECT j.task_type, t.payload, j.instructions, j.label_config, t.prediction, t.prediction_confidence, t.prediction_model, j.pay_per_annotation, j.currency::text
        INTO r.task_type, r.payload, r.instructions, r.label_config, r.prediction, r.prediction_confidence, r.prediction_model, r.pay_per_annotation, r.currency
        FROM tasks t JOIN jobs j ON j.id = t.job_id
        WHERE t.id = v_task_id;
      r.outcome := 'claimed';
      r.task_id := v_task_id;
      r.job_id := cand.job_id;
      RETURN r;
    END LOOP;

    IF NOT v_any AND v_only IS NULL THEN
      r.outcome := 'none';
      RETURN r;
    END IF;
  END LOOP;
END $f$;
