-- The floor: the key pick of every variant plus one primary-key probe of a 1M-row table.
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
\set a random(1, 1000000)
SELECT p.key, a.abalance FROM bench.plain p, pgbench_accounts a WHERE p.i = :i AND a.aid = :a;
