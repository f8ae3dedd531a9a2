-- authenticate, then a point query on bench.orders (tenant-isolation policy), one transaction.
-- Run as bench_app (RLS applies) and as bench_bypass (BYPASSRLS: the same query, RLS off).
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
\set o random(1, 100000)
BEGIN;
SELECT apikeys.authenticate(p.key) FROM bench.plain p WHERE p.i = :i;
SELECT order_id, amount FROM bench.orders WHERE order_id = :o;
COMMIT;
