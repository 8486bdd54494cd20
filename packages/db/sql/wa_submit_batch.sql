-- requires: wa_submit.sql
--
-- Submits of one gateway process that arrived together, in one call: one transaction, one commit.
-- Each request is one call of wa_submit (the holder's live lease becomes 'submitted' and its event is
-- written), in the order given, so a batch writes exactly what the same submits one after another
-- would: a second submit of the same assignment in the batch finds it submitted and matches nothing,
-- as it would alone. The relay's NOTIFY is sent once per channel per transaction by Postgres itself.
--
-- p_requests: a JSON array of {"id", "worker_id", "now", "answer", "time_spent_ms", "task_id", "job_id",
-- "vendor_id", "outbox"} — wa_submit's parameters but the channel. Returns one row per request, in
-- request order (call it WITH ORDINALITY): the submitted assignment, or a row of nulls where wa_submit
-- matched nothing (the caller then runs the ordered checks for that request, which say why). An error
-- in any call fails the batch and rolls it back whole; the caller then runs each request alone.
CREATE OR REPLACE FUNCTION wa_submit_batch(p_requests jsonb, p_channel text)
RETURNS SETOF assignments LANGUAGE plpgsql AS $f$
DECLARE
  q jsonb;
  submitted assignments;
BEGIN
  FOR i IN 0 .. jsonb_array_length(p_requests) - 1 LOOP
    q := p_requests -> i;
    submitted := NULL;
    SELECT * INTO submitted
      FROM wa_submit((q ->> 'id')::bigint, (q ->> 'worker_id')::uuid, (q ->> 'now')::timestamptz, q -> 'answer', (q ->> 'time_spent_ms')::integer,
                     (q ->> 'task_id')::bigint, (q ->> 'job_id')::uuid, (q ->> 'vendor_id')::uuid, q -> 'outbox', p_channel);
    RETURN NEXT submitted;
  END LOOP;
END $f$;
