-- apikeys.verify on valid keys (i % 10 in 1..9: never revoked, never malformed).
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = :i;
