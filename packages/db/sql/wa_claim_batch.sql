-- requires: wa_claim.sql
--
-- Claims of one gateway process that arrived together, in one call: one transaction, one commit.
-- Each request is one call of wa_claim (whose header lists the claim's rules), in the order given, so a
-- batch gives exactly what the same claims one after another would give: every call sees the rows the
-- earlier ones wrote (a PL/pgSQL statement takes a fresh snapshot that includes them), the slot rows an
-- earlier call locked are this transaction's own and re-checked by open_slots, and unique (task_id,
-- worker_id) still backs up "never the same item twice". Other processes' claims skip the slots a batch
-- holds (SKIP LOCKED), as they skip a single claim's.
--
-- p_requests: a JSON array of {"worker_id", "vendor_id", "now", "check_worker", "jobs": [uuid…],
-- "full_search"} — wa_claim's parameters. Returns one wa_claim_result per request, in request order
-- (call it WITH ORDINALITY). An error in any call fails the batch and rolls it back whole (nothing of it
-- is committed); the caller (claim.service.ts) then runs each request alone, so one request's error
-- never fails another. No subtransaction per request: more than 64 in one transaction overflow the
-- backend's subtransaction cache, which slows every snapshot on the server.
CREATE OR REPLACE FUNCTION wa_claim_batch(p_requests jsonb)
RETURNS SETOF wa_claim_result LANGUAGE plpgsql AS $f$
DECLARE
  q jsonb;
  r wa_claim_result;
BEGIN
  FOR i IN 0 .. jsonb_array_length(p_requests) - 1 LOOP
    q := p_requests -> i;
    r := wa_claim((q ->> 'worker_id')::uuid, (q ->> 'vendor_id')::uuid, (q ->> 'now')::timestamptz, (q ->> 'check_worker')::boolean,
                  ARRAY(SELECT jsonb_array_elements_text(q -> 'jobs'))::uuid[], (q ->> 'full_search')::boolean);
    RETURN NEXT r;
  END LOOP;
END $f$;
