-- Money times a rate in basis points (10000 = 1.00), rounded half away from zero to a whole minor
-- unit. Every rate settlement applies (level multipliers, vendor commissions, rejection pay) goes
-- through this one function, so the consumer, reconciliation and reports round alike. Computed in
-- numeric: amount * bp cannot overflow bigint on the way.
CREATE OR REPLACE FUNCTION st_bp(amount bigint, bp integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$
  SELECT (sign(amount) * floor((abs(amount)::numeric * bp + 5000) / 10000))::bigint
$f$;
