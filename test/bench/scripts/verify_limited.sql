-- apikeys.verify on valid keys of the even tenants that have a rate limit of their own, never
-- reached (a billion per second): i % 10 in 6, 8 (in a key set, never revoked).
\set i 10 * random(0, :nkeys / 10 - 1) + 4 + 2 * random(1, 2)
SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = :i;
