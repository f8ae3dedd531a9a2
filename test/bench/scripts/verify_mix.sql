-- apikeys.verify on any key: 90% valid, 5% revoked (i % 20 = 0), 5% malformed (i % 20 = 10).
\set i random(1, :nkeys)
SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = :i;
