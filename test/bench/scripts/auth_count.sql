-- authenticate, then count(*) over the 1,000,000 rows of bench.docs, one transaction.
-- bench_app: policy USING (apikeys.has_permission('reports:read')); bench_bypass: no policy.
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
BEGIN;
SELECT apikeys.authenticate(p.key) FROM bench.plain p WHERE p.i = :i;
SELECT count(*) FROM bench.docs;
COMMIT;
