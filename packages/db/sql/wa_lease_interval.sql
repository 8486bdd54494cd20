-- How long a lease runs: the job's lease time × the worker's lease factor, rounded up to a whole
-- second. The factor is accommodations.lease_factor when it is a JSON number (the API allows 1–4),
-- never below 1; anything else counts as 1. The claim grants this much and every heartbeat extends the
-- lease to now + this much, so both read it from here.
CREATE OR REPLACE FUNCTION wa_lease_interval(p_lease_seconds integer, p_accommodations jsonb)
RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT make_interval(secs => ceil(p_lease_seconds * CASE WHEN jsonb_typeof(p_accommodations -> 'lease_factor') = 'number'
                                                           THEN greatest((p_accommodations ->> 'lease_factor')::float8, 1) ELSE 1 END))
$f$;
