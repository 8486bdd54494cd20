-- requires: wa_lease_interval.sql wa_assignment_takes_slot.sql
--
-- One job of a claim, once wa_claim has chosen it: the vendor share cap (rule 4 of wa_claim.sql), the
-- gold item (rule 8), the job's first open slot that no other claim holds, locked (SKIP LOCKED), the
-- assignment with its lease (rule 7) and what the worker is shown. Returns outcome 'claimed', or a
-- row of nulls when the job gave nothing (cap reached, every open slot held by another claim, a race
-- on the unique key): wa_claim then tries its next job. Only wa_claim calls it, after choosing the job
-- by rules 2, 3, 5 and 6.
CREATE OR REPLACE FUNCTION wa_claim_take(p_worker_id uuid, p_vendor_id uuid, p_now timestamptz, p_job_id uuid, p_share_cap float8, p_accommodations jsonb)
RETURNS wa_claim_result LANGUAGE plpgsql
-- Planned with sequential scans off, as wa_claim (migration 20261128T1100_claim_plans): every statement
-- here is a lookup by key.
SET enable_seqscan = off AS $f$
DECLARE
  r wa_claim_result;
  v_held bigint;
  v_total bigint;
  v_task_id bigint;
  v_open refcursor;
BEGIN
  -- The share cap. The usage row is created on first need (counted once from assignments) and locked,
  -- so concurrent claims of the same vendor on the same job check and take in turn; triggers keep it
  -- current (wa_assignment_changed).
  IF p_share_cap IS NOT NULL THEN
    SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
      FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
      WHERE u.job_id = p_job_id AND u.vendor_id = p_vendor_id
      FOR UPDATE OF u;
    IF NOT FOUND THEN
      INSERT INTO job_vendor_usage (job_id, vendor_id, held)
      SELECT p_job_id, p_vendor_id, count(*) FROM assignments a
      WHERE a.job_id = p_job_id AND a.vendor_id = p_vendor_id AND wa_assignment_takes_slot(a.status)
      ON CONFLICT DO NOTHING;
      SELECT u.held, coalesce(t.total_slots, 0) INTO v_held, v_total
        FROM job_vendor_usage u LEFT JOIN job_slot_totals t ON t.job_id = u.job_id
        WHERE u.job_id = p_job_id AND u.vendor_id = p_vendor_id
        FOR UPDATE OF u;
    END IF;
    IF NOT (v_held + 1 <= floor(p_share_cap * v_total + 1e-9)) THEN
      RETURN r;
    END IF;
  END IF;

  -- Rule 8 (gold, qa-sampling's): with probability gold_ratio this claim offers a gold item first.
  IF random() < (SELECT coalesce((j.qa_policy->>'gold_ratio')::float8, 0) FROM jobs j WHERE j.id = p_job_id) THEN
    SELECT t.id INTO v_task_id FROM tasks t
    WHERE t.job_id = p_job_id AND t.gold IS NOT NULL AND t.status = 'open'
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.worker_id = p_worker_id)
      AND NOT EXISTS (SELECT 1 FROM qa_suspect_gold g WHERE g.task_id = t.id)
    ORDER BY t.id LIMIT 1;
  END IF;
  -- The job's open slots in order, each locked unless another claim holds it. The cursor fetches one
  -- row at a time and is planned for a few rows, so this is the same probe as wa_claim_job's
  -- (wa_open_slots) without a second copy of it; the lock re-checks open_slots on the row as it is now,
  -- since the slot may have filled after the cursor's snapshot.
  IF v_task_id IS NULL THEN
    OPEN v_open NO SCROLL FOR SELECT o.task_id FROM wa_open_slots(p_job_id, p_worker_id) o;
    LOOP
      FETCH v_open INTO v_task_id;
      EXIT WHEN NOT FOUND;
      PERFORM 1 FROM task_slots s WHERE s.task_id = v_task_id AND s.open_slots > 0 FOR UPDATE SKIP LOCKED;
      EXIT WHEN FOUND;
      v_task_id := NULL;
    END LOOP;
    CLOSE v_open;
  END IF;
  IF v_task_id IS NULL THEN
    RETURN r;
  END IF;

  -- The insert trigger takes the slot; unique (task_id, worker_id) backs up "never the same item twice".
  INSERT INTO assignments AS a (task_id, job_id, worker_id, vendor_id, status, leased_at, lease_expires_at)
  SELECT v_task_id, j.id, p_worker_id, p_vendor_id, 'leased', p_now, p_now + wa_lease_interval(j.lease_seconds, p_accommodations)
  FROM jobs j WHERE j.id = p_job_id
  ON CONFLICT (task_id, worker_id) DO NOTHING
  RETURNING a.id, a.leased_at, a.lease_expires_at INTO r.id, r.leased_at, r.lease_expires_at;
  IF NOT FOUND THEN
    RETURN r;
  END IF;

  SELECT j.task_type, t.payload, j.instructions, j.label_config, t.prediction, t.prediction_confidence, t.prediction_model, j.pay_per_annotation, j.currency::text
    INTO r.task_type, r.payload, r.instructions, r.label_config, r.prediction, r.prediction_confidence, r.prediction_model, r.pay_per_annotation, r.currency
    FROM tasks t JOIN jobs j ON j.id = t.job_id
    WHERE t.id = v_task_id;
  r.outcome := 'claimed';
  r.task_id := v_task_id;
  r.job_id := p_job_id;
  RETURN r;
END $f$;
