-- Which assignment states hold one of a task's slots (its overlap): a live lease, a submitted answer
-- and an accepted one. Expired, released and rejected assignments give their slot back.
CREATE OR REPLACE FUNCTION wa_assignment_takes_slot(status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS
  $f$ SELECT status IN ('leased', 'submitted', 'accepted') $f$;
