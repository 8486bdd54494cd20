-- requires: wa_claim_candidates.sql
-- The whole claim in one call: the worker, the checks, the choice, the lock, the insert and what
-- the worker is shown. Statements inside PL/pgSQL keep their plans per connection, so a claim
-- neither re-plans its queries nor pays a round trip per step.
--
-- p_check_worker: refuse suspended workers and workers at their daily limit (a long poll checks
--   once, before it starts waiting, and not on every retry).
-- p_jobs: the job ids to probe first, best first (the caller's hinted job order); the first
--   32 are probed 8 at a time.
-- p_full_search: when the hinted jobs yield nothing, search every active job. Without it only
--   p_jobs are considered (the caller already applied a rule of its own to pick them).
CREATE OR REPLACE FUNCTION wa_claim(p_worker_id uuid, p_vendor_id uuid, p_now timestamptz, p_check_worker boolean, p_jobs uuid[], p_full_search boolean)
RETURNS wa_claim_result LANGUAGE plpgsql
-- Planned with sequential scans off: every statement here is a lookup by key, and a plan cached while
-- a table was tiny must not keep a sequential scan as it grows (migration 20261128T1100_claim_plans).
SET enable_seqscan = off AS $f$
DECLARE
  wk record;
  cand record;
  r wa_claim_result;
  v_lease_factor float8;
  v_day_start timestamptz;
  v_active_seconds float8;
  v_hint_rounds integer := ceil(least(coalesce(cardinality(p_jobs), 0), 32) / 8.0)::integer;
  v_round integer := 0;
  v_only uuid[];
  v_excluded uuid[] := '{}';
  v_any boolean;
  v_held bigint;
  v_total bigint;
  v_task_id bigint;
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
    -- Active time is measured by the server: lease start to submit/release/expiry, or to now for live leases.
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

  v_lease_factor := CASE WHEN jsonb_typeof(wk.accommodations -> 'lease_factor') = 'number'
                         THEN greatest((wk.accommodations ->> 'lease_factor')::float8, 1) ELSE 1 END;

  LOOP
    IF v_round < v_hint_rounds THEN
      v_only := p_jobs[v_round * 8 + 1 : v_round * 8 + 8];
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

      -- A hard vendor share cap: at most cap × the job's total annotations. The usage row is
      -- created on first need (counted once from assignments) and locked, so concurrent claims of
      -- the same vendor on the same job check and take in turn; triggers keep it current.
      IF cand.share_cap IS NOT NULL THEN
        SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
          FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
          WHERE u.job_id = cand.job_id AND u.vendor_id = p_vendor_id
          FOR UPDATE OF u;
        IF NOT FOUND THEN
          INSERT INTO job_vendor_usage (job_id, vendor_id, held)
          SELECT cand.job_id, p_vendor_id, count(*) FROM assignments a
          WHERE a.job_id = cand.job_id AND a.vendor_id = p_vendor_id AND a.status IN ('leased', 'submitted', 'accepted')
          ON CONFLICT DO NOTHING;
          SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
            FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
            WHERE u.job_id = cand.job_id AND u.vendor_id = p_vendor_id
            FOR UPDATE OF u;
        END IF;
        CONTINUE WHEN NOT (v_held + 1 <= floor(cand.share_cap * v_total + 1e-9));
      END IF;

      -- The first claimable open slot, skipping rows other claims hold: any number of gateway
      -- processes claim different slots without waiting on each other.
      SELECT s.task_id INTO v_task_id
        FROM task_slots s
        WHERE s.job_id = cand.job_id AND s.open_slots > 0
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = s.task_id AND a.worker_id = p_worker_id)
        ORDER BY s.priority DESC, s.task_id
        LIMIT 1
        FOR UPDATE OF s SKIP LOCKED;
      CONTINUE WHEN v_task_id IS NULL;

      -- The insert trigger takes the slot; unique (task_id, worker_id) backs up "never the same item twice".
      INSERT INTO assignments AS a (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at)
      SELECT v_task_id, j.id, p_worker_id, p_vendor_id, 'leased', p_now,
             p_now + make_interval(secs => ceil(j.lease_seconds * v_lease_factor))
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
