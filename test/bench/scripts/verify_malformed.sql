-- apikeys.verify on malformed keys only (bad checksum: rejected without touching a table).
\set i 20 * random(0, :nkeys / 20 - 1) + 10
SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = :i;
