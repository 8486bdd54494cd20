-- requires: st_ledger_lock.sql st_expected_pay.sql st_record_decisions.sql st_record_task_charges.sql st_record_reviews.sql st_posted_since.sql
-- A batch of the settlement consumer's events in one call, so a batch is one statement and one round
-- trip (run outside an explicit transaction it is its own, and the deferred balance check runs at its
-- commit): the decisions, the charges and the reviews (JSON arrays, as the consumer parsed them; empty
-- when none) are recorded. The decisions and the reviews are recorded, with their hours, before the
-- ledger lock is taken (st_insert_decisions, st_insert_reviews: see st_record_decisions.sql), so while
-- one batch holds the lock the next one, on another connection, records its own instead of waiting;
-- the ledger's part (and the charges, which are only postings) runs under the lock.
-- Returns what the batch posted, per kind of transaction (for the ledger metrics): the ledger
-- transactions after the last id seen when the lock was taken (writers take turns on it, so every later
-- id is this batch's) and their postings.
CREATE OR REPLACE FUNCTION st_post_events(p_decisions jsonb, p_charges jsonb, p_reviews jsonb)
RETURNS TABLE (kind text, transactions integer, postings integer) LANGUAGE plpgsql
  -- No JIT: a batch's statements are small, but without fresh statistics their cost estimates pass
  -- jit_optimize_above_cost and LLVM spent ~7 s compiling each batch (measured) to run it in milliseconds.
  SET jit = off AS $f$
DECLARE
  mark bigint;
  d bigint[];
  a bigint[];
  t timestamptz[];
  w timestamptz[];
  o integer[];
  pay st_pay[];
  reviews bigint[];
BEGIN
  IF jsonb_array_length(p_decisions) > 0 THEN
    SELECT array_agg(n.decision_id), array_agg(n.assignment_id), array_agg(n.decided_at), array_agg(n.was_first), array_agg(n.others)
    INTO d, a, t, w, o FROM st_insert_decisions(p_decisions) n;
    -- What the new decisions' assignments are worth, worked out before the lock too (st_settle_decisions
    -- works it out again for any assignment another batch recorded a decision of meanwhile).
    IF d IS NOT NULL THEN
      -- (st_expected_pay reads each assignment once however many of its decisions a holds: st_id_set.)
      pay := ARRAY(SELECT r::st_pay FROM st_expected_pay(a) r);
    END IF;
  END IF;
  IF jsonb_array_length(p_reviews) > 0 THEN
    reviews := ARRAY(SELECT st_insert_reviews(p_reviews));
  END IF;
  PERFORM st_ledger_lock();
  -- Read under the lock (each statement of a function takes a new snapshot: this one sees what the
  -- previous holder committed).
  SELECT coalesce(max(x.id), 0) INTO mark FROM ledger_transactions x;
  PERFORM st_settle_decisions(d, a, t, w, o, pay);
  IF jsonb_array_length(p_charges) > 0 THEN
    PERFORM st_record_task_charges(p_charges);
  END IF;
  PERFORM st_settle_reviews(reviews);
  RETURN QUERY SELECT * FROM st_posted_since(mark);
END $f$;
