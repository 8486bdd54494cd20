-- After a crash (wa_claim_epoch, an unlogged table, is empty: see migration 20261130T0030): the
-- assignments' id sequence may be back where it was before claims that Postgres lost, and would give
-- their ids again. The first claim to notice moves it a million ids on (far more than the claims of the
-- ~0.6 s of WAL a crash can lose) and puts the row back; its transaction commits synchronously, so the
-- move is durable before any claim after it is answered. Claims that notice at the same time wait on
-- the row's key and then find it there (ON CONFLICT DO NOTHING).
CREATE OR REPLACE FUNCTION wa_claim_after_crash() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
  seq text := pg_get_serial_sequence('assignments', 'id');
BEGIN
  INSERT INTO wa_claim_epoch DEFAULT VALUES ON CONFLICT DO NOTHING;
  IF FOUND THEN
    PERFORM setval(seq, nextval(seq) + 1000000);
    PERFORM set_config('fairlabel.claim_commit', 'sync', true);
    PERFORM set_config('synchronous_commit', 'on', true);
  END IF;
END $f$;
